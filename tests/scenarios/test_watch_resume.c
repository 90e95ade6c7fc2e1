/* The broken-watch trap (scenarios/trap-watch-reconnect.yaml) does what its
 * comments say, asserted from `ragsim compare` on the shipped scenario: the
 * naive reconnect re-lists and rebuilds on every replica after every heal
 * and the replicas are OOM-killed together; resuming from lastRev+1 only
 * replays what was missed, and re-lists only when that revision was
 * compacted -- never because a lease expired (a watch holds none; the
 * replicas' sessions expire in the 15 s partition and the watches resume
 * all the same). The counts are the scenario's by hand. */
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
    cr_expect_geq(comparison_row(f, "naive", "peak_leases").mean, 6, "a session's lease left behind per reconnect");
    /* resume: every break resumes, the 15 s partition's too (the sessions
     * expire, the watches need none and nothing was compacted): 33 resumes
     * (11 breaks x 3), no re-list; reloads only for the two pushes, one
     * coalesced batch per replica each: 2 x 3. (While resume depended on a
     * live lease, that partition forced 3 re-lists and 3 more reloads: 30
     * resumes, 3 re-lists, 9 reloads.) The sessions are made anew after it:
     * 3 leases at most. */
    cmprow_t r = comparison_row(f, "resume", "config_watch_resumes");
    cr_expect_eq(r.mean, 33);
    cr_expect_eq(comparison_row(f, "resume", "config_watch_relists").mean, 0);
    cr_expect_eq(comparison_row(f, "resume", "config_watch_compacted").mean, 0);
    cr_expect_eq(comparison_row(f, "resume", "config_reloads").mean, 6);
    cr_expect_eq(comparison_row(f, "resume", "peak_leases").mean, 3);
    /* resume_compacted: the drop with the push gets ErrCompacted and
     * re-lists (one full reload instead of the replayed batch): 30 resumes,
     * 3 re-lists, 2 x 3 reloads (before: 27 resumes, 6 re-lists, 9 reloads,
     * the other 3 re-lists after the lease expiry) */
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_watch_compacted").mean, 3);
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_watch_resumes").mean, 30);
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_watch_relists").mean, 3);
    cr_expect_eq(comparison_row(f, "resume_compacted", "config_reloads").mean, 6);
    cr_expect_eq(comparison_row(f, "resume_compacted", "peak_leases").mean, 3);
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
