/* Shared by the libFuzzer targets: the scenario loader is driven through
 * rs_load (the whole path `ragsim validate` takes: YAML, overrides,
 * variants, the model's parse and checks, unknown keys), reading from a
 * memfd so that no input touches the disk. */
#ifndef RAGSIM_FUZZ_COMMON_H
#define RAGSIM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "experiment/runner.h"
#include "sim/diag.h"

/* Load `text` (len bytes) as a scenario with the overrides `sets`. */
static inline void fuzz_load(const uint8_t *text, size_t len, const char *const *sets, size_t nsets)
{
    int fd = memfd_create("scenario", 0);
    if (fd < 0) return;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k <= 0) break;
        off += (size_t)k;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    rs_load(&s, path, sets, nsets, &d);
    const char *msgs = sim_diag_text(&d);
    if (getenv("RAGSIM_FUZZ_VERBOSE")) fputs(msgs, stderr);   /* to see what an input does */
    rs_unload(&s);
    sim_diag_fini(&d);
    close(fd);
}

#endif
