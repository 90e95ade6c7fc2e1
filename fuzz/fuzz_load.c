/* libFuzzer target: a scenario file, as `ragsim validate` loads it. Any
 * crash, sanitizer report, leak or hang is a finding; errors are fine. */
#define _GNU_SOURCE   /* memfd_create */
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load(data, size, NULL, 0);
    return 0;
}
