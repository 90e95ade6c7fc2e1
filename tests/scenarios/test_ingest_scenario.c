/* scenarios/vectordb-ingest.yaml does what its header and
 * docs/models/vectordb.md#ingest say: a trickle of inserts leaves the
 * healthy baseline healthy (its growing segment adds tens of ms to a
 * retrieval, nothing to the answers), a bulk load whose index builds need
 * more cores than a replica has degrades it (an unindexed backlog that
 * every query scans: retrievals past their timeout, answers without their
 * chunks) until the builds catch up. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"

Test(scenarios, vectordb_ingest_trickle_stays_healthy_bulk_load_degrades, .timeout = 900)
{
    char *path;
    hid_t f = run_compare("scenarios/vectordb-ingest.yaml", 2, &path, NULL);
    cmprow_t ok0 = comparison_row(f, "no_ingest", "success_ratio");
    cmprow_t okt = comparison_row(f, "trickle", "success_ratio");
    cmprow_t okb = comparison_row(f, "bulk", "success_ratio");
    cmprow_t p0 = comparison_row(f, "no_ingest", "retrieval_p95_s");
    cmprow_t pt = comparison_row(f, "trickle", "retrieval_p95_s");
    cmprow_t pb = comparison_row(f, "bulk", "retrieval_p95_s");
    cmprow_t oomt = comparison_row(f, "trickle", "vectordb_oom_kills");
    cr_log_info("success: none %.5f, trickle %.5f, bulk %.5f; retrieval p95: %.4f, %.4f, %.4f s", ok0.mean, okt.mean,
                okb.mean, p0.mean, pt.mean, pb.mean);
    /* the trickle: healthy, its retrievals a little slower (a growing
     * segment of up to ~42 000 rows, <= 23.6 ms on a query of 5.04 ms) */
    cr_expect_geq(okt.mean, 0.999, "trickle: success %.5f", okt.mean);
    cr_expect_lt(fabs(okt.mean - ok0.mean), 0.001, "trickle: success moves by %.5f", okt.mean - ok0.mean);
    cr_expect_eq(oomt.mean, 0);
    cr_expect_gt(pt.mean, p0.mean, "the growing segment's scan costs something");
    cr_expect_lt(pt.mean, 0.1, "trickle: retrieval p95 %.4f s", pt.mean);
    /* the bulk load: significantly worse, retrievals at their 3 s timeout */
    cr_expect_eq(okb.verdict, -1, "bulk is not worse than the baseline: diff %g", okb.diff);
    cr_expect_eq(okb.significant, 1);
    cr_expect_lt(okb.mean, 0.95, "bulk: success %.5f", okb.mean);
    cr_expect_gt(pb.mean, 1.0, "bulk: retrieval p95 %.4f s", pb.mean);

    /* the backlog of the bulk run: built away before the end */
    const char *run = "/runs/bulk/rep000";
    series_t bf = series(f, run, "vectordb_brute_force_vectors");
    double peak = 0;
    for (size_t i = 0; i < bf.n; i++)
        if (bf.v[i] > peak) peak = bf.v[i];
    cr_expect_gt(peak, 200000, "unindexed backlog peaks at %.0f vectors", peak);
    cr_expect_leq(bf.v[bf.n - 1], 41725, "backlog at the end: %.0f vectors (one growing segment at most)", bf.v[bf.n - 1]);
    free(bf.v);
    H5Fclose(f);
    unlink(path);
    free(path);
}
