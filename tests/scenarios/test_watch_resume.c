/* The broken-watch trap (scenarios/trap-watch-reconnect.yaml) does what its
 * comments say, asserted from `ragsim compare` on the shipped scenario: the
 * naive reconnect re-lists and rebuilds on every replica after every heal
 * and the replicas are OOM-killed together; resuming from lastRev+1 only
 * replays what was missed, and re-lists only after a lease expired or its
 * revision was compacted. The counts are the scenario's by hand. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"

static cmprow_t better(hid_t f, const char *variant, const char *metric)
{
    cmprow_t r = comparison_row(f, variant, metric);
    cr_expect_eq(r.verdict, 1, "%s is not better than naive on %s: diff %g [%g, %g] over %lld pairs", variant,
                 metric, r.diff, r.diff_lo, r.diff_hi, r.n_paired);
    return r;
}

Test(watch_resume, the_reconnect_trap_and_its_fix, .timeout = 600)
{
    char *path;
    hid_t f = run_compare("scenarios/trap-watch-reconnect.yaml", 2, &path, NULL);
    /* 10 drops + 1 long partition, 3 watches each, for every variant */
    const char *all[] = {"naive", "resume", "resume_compacted"};
    for (int i = 0; i < 3; i++) {
        cmprow_t b = comparison_row(f, all[i], "config_watch_breaks");
        cr_expect_geq(b.mean, 3 * 3, "%s: %g breaks", all[i], b.mean);
    }
    cr_expect_eq(comparison_row(f, "resume", "config_watch_breaks").mean, 33, "nobody dies under resume");
    /* naive: every replica re-lists after every drop it survives; OOM kills */
    cmprow_t oom = comparison_row(f, "naive", "gateway_oom_kills");
    cr_expect_geq(oom.mean, 3, "the naive rebuilds must kill the replicas (%g kills)", oom.mean);
    cmprow_t rel = comparison_row(f, "naive", "config_watch_relists");
    cr_expect_geq(rel.mean, 9, "naive re-lists: %g", rel.mean);
    cr_expect_eq(comparison_row(f, "naive", "config_watch_resumes").mean, 0);
    cr_expect_geq(comparison_row(f, "naive", "peak_leases").mean, 6, "a lease left behind per reconnect");
    /* resume: 30 resumes (10 drops x 3), 3 re-lists after the 15 s
     * partition (lease TTL 10 s), reloads only for the two pushes and that
     * re-list: 3 x 3 */
    cmprow_t r = comparison_row(f, "resume", "config_watch_resumes");
    cr_expect_eq(r.mean, 30);
    cr_expect_eq(comparison_row(f, "resume", "config_watch_relists").mean, 3);
    cr_expect_eq(comparison_row(f, "resume", "config_watch_compacted").mean, 0);
    cr_expect_eq(comparison_row(f, "resume", "config_reloads").mean, 9);
    cr_expect_eq(comparison_row(f, "resume", "peak_leases").mean, 3);
    /* resume_compacted: the drop with the push gets ErrCompacted: 27 resumes, 6 re-lists */
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_watch_compacted").mean, 3);
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_watch_resumes").mean, 27);
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_watch_relists").mean, 6);
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_reloads").mean, 9);
    for (int i = 1; i < 3; i++) {
        cmprow_t o = better(f, all[i], "gateway_oom_kills");
        cr_expect_eq(o.mean, 0, "%s: %g OOM kills", all[i], o.mean);
        better(f, all[i], "success_ratio");
        better(f, all[i], "worst_window_success");
        better(f, all[i], "time_below_slo_s");
        better(f, all[i], "config_reloads");
        better(f, all[i], "config_watch_relists");
        better(f, all[i], "peak_leases");
    }
    H5Fclose(f);
    unlink(path);
    free(path);
}
