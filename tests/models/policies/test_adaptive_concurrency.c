/* Adaptive concurrency limits (Netflix): admission and tokens, hand-computed
 * AIMD and Gradient2 sequences, Java's double arithmetic and int casts, a
 * line-by-line transcription of the Java under random samples, and parsing.
 *
 * The Gradient2 sequences were computed by hand (the arithmetic is in the
 * comments) and their double results checked with Python floats, which are
 * IEEE doubles evaluated like Java's (no fused multiply-add): the literals
 * are the exact doubles, compared with ==. */
#include <criterion/criterion.h>
#include <string.h>

#include "models/policies/adaptive_concurrency.h"
#include "sim/error.h"
#include "sim/rng.h"

#define MS SIM_MS
#define SEC SIM_SEC

static cl_spec_t aimd_spec(int init, int min, int max, double ratio)
{
    cl_spec_t s = cl_spec_default(CL_AIMD);
    s.initial_limit = init;
    s.min_limit = min;
    s.max_limit = max;
    s.backoff_ratio = ratio;
    return s;
}

/* One request through the limiter: acquire, then release with a sample. */
static void sample(cl_t *cl, sim_time_t rtt, cl_outcome_t outcome)
{
    cl_token_t tok;
    cr_assert(cl_acquire(cl, &tok), "limit %d inflight %d", cl_limit(cl), cl_inflight(cl));
    cl_release(cl, tok, rtt, outcome);
}

Test(conclimit, admission_tokens_and_aimd_growth)
{
    cl_spec_t s = cl_spec_default(CL_AIMD);
    cl_t cl;
    cr_assert_eq(cl_init(&cl, &s), 0);
    cr_assert_eq(cl_limit(&cl), 20);
    cl_token_t tok[32];
    for (int i = 0; i < 20; i++) {
        cr_assert(cl_acquire(&cl, &tok[i]));
        cr_assert_eq(tok[i].inflight, i + 1, "the in-flight count includes the request");
    }
    cl_token_t extra;
    cr_assert_not(cl_acquire(&cl, &extra), "inflight 20 = limit 20: rejected");
    cr_assert_eq(cl.rejected, 1);
    /* the 20th: 20 x 2 >= 20 -> 21 */
    cl_release(&cl, tok[19], 1 * MS, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 21);
    cr_assert_eq(cl_inflight(&cl), 19);
    cr_assert(cl_acquire(&cl, &tok[19]));
    cr_assert_eq(tok[19].inflight, 20);
    cr_assert(cl_acquire(&cl, &tok[20]));
    cr_assert_eq(tok[20].inflight, 21);
    cr_assert_not(cl_acquire(&cl, &extra), "inflight 21 = limit 21");
    /* the first (inflight 1 when it started): 2 >= 21 is false: no change */
    cl_release(&cl, tok[0], 1 * MS, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 21);
    /* inflight 10 at start: 20 >= 21 false; 11: 22 >= 21 -> 22 */
    cl_release(&cl, tok[9], 1 * MS, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 21);
    cl_release(&cl, tok[10], 1 * MS, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 22);
    /* ignored: released, no sample */
    cl_release(&cl, tok[20], 1 * MS, CL_IGNORED);
    cr_assert_eq(cl_limit(&cl), 22);
    cr_assert_eq(cl.ignored, 1);
    /* a drop: (int) (22 x 0.9) = 19, clamped to min 20 */
    cl_release(&cl, tok[11], 1 * MS, CL_DROPPED);
    cr_assert_eq(cl_limit(&cl), 20);
    /* a slow success is a drop: rtt > 5 s; exactly 5 s is not */
    cl_release(&cl, tok[12], 5 * SEC, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 21, "13 x 2 >= 20 and rtt = timeout is not > timeout");
    cl_release(&cl, tok[13], 5 * SEC + 1, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 20);
    cr_assert_eq(cl_inflight(&cl), 21 - 7);
    cr_assert_eq(cl.successes, 6);
    cr_assert_eq(cl.drops, 1);
}

Test(conclimit, aimd_backoff_truncates_like_java)
{
    /* min 1: 30 -> 27 -> 24 (24.3) -> 21 (21.6) -> 18 (18.9) -> 16 (16.2)
     * -> 14 -> 12 -> 10 -> 9 -> 8 -> 7 -> 6 -> 5 -> 4 -> 3 -> 2 -> 1 -> 1 */
    const int want[] = {27, 24, 21, 18, 16, 14, 12, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1};
    cl_spec_t s = aimd_spec(30, 1, 200, 0.9);
    cl_t cl;
    cr_assert_eq(cl_init(&cl, &s), 0);
    for (int i = 0; i < 18; i++) {
        sample(&cl, MS, CL_DROPPED);
        cr_assert_eq(cl_limit(&cl), want[i], "drop %d: %d, want %d", i, cl_limit(&cl), want[i]);
    }
    /* Java computes (int) (50 * 0.58) in doubles: 0.58 is slightly below
     * 0.58, the product is 28.999999999999996 and the cast gives 28, not 29 */
    s = aimd_spec(50, 1, 200, 0.58);
    cr_assert_eq(cl_init(&cl, &s), 0);
    sample(&cl, MS, CL_DROPPED);
    cr_assert_eq(cl_limit(&cl), 28);
    /* and growth stops at max */
    s = aimd_spec(198, 20, 200, 0.9);
    cr_assert_eq(cl_init(&cl, &s), 0);
    cl_token_t tok[200];
    for (int i = 0; i < 198; i++) cr_assert(cl_acquire(&cl, &tok[i]));
    cl_release(&cl, tok[197], MS, CL_SUCCESS);
    cl_release(&cl, tok[196], MS, CL_SUCCESS);
    cl_release(&cl, tok[195], MS, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 200);
}

Test(conclimit, initial_limit_outside_the_range_is_used_until_the_first_sample)
{
    /* Netflix only logs a warning: admission uses 300 until a sample clamps it */
    cl_spec_t s = aimd_spec(300, 20, 200, 0.9);
    cl_t cl;
    cr_assert_eq(cl_init(&cl, &s), 0);
    cl_token_t tok[300];
    for (int i = 0; i < 250; i++) cr_assert(cl_acquire(&cl, &tok[i]));
    cl_release(&cl, tok[249], MS, CL_SUCCESS);
    cr_assert_eq(cl_limit(&cl), 200);
}

typedef struct {
    int inflight;
    sim_time_t rtt;
    double estimate;   /* estimatedLimit after the sample */
    int limit;
    double long_rtt;   /* the stored long-term average after the sample, ns */
} g2_step_t;

static void g2_trace(cl_t *cl, const g2_step_t *st, int n)
{
    for (int i = 0; i < n; i++) {
        cl_release(cl, (cl_token_t){st[i].inflight}, st[i].rtt, CL_SUCCESS);
        cr_assert_eq(cl_estimated_limit(cl), st[i].estimate, "step %d: estimate %.17g, want %.17g", i,
                     cl_estimated_limit(cl), st[i].estimate);
        cr_assert_eq(cl_limit(cl), st[i].limit, "step %d: limit %d, want %d", i, cl_limit(cl), st[i].limit);
        cr_assert_eq(cl_long_rtt(cl), st[i].long_rtt, "step %d: long rtt %.17g, want %.17g", i,
                     cl_long_rtt(cl), st[i].long_rtt);
    }
}

Test(conclimit, gradient2_hand_computed_sequence)
{
    cl_spec_t s = cl_spec_default(CL_GRADIENT2);
    cl_t cl;
    cr_assert_eq(cl_init(&cl, &s), 0);
    cr_assert_eq(cl_limit(&cl), 20);
    /* Samples go straight to cl_release with the inflight they would have
     * had; `inflight` only matters through the app-limited rule. */
    cl.inflight = 12;
    const g2_step_t st[] = {
        /* long = 10 ms (the mean of 1 sample); gradient = min(1, 1.5 x 10/10)
         * = 1; new = 20 x 1 + 4 = 24; 20 x 0.8 + 24 x 0.2 = 20.8 */
        {20, 10 * MS, 20.8, 20, 1e7},
        /* every gradient-1 step is L x 0.8 + (L + 4) x 0.2 = L + 0.8 */
        {20, 10 * MS, 21.6, 21, 1e7},
        /* long = (10 + 10 + 40) / 3 = 20 ms; gradient = 1.5 x 20/40 = 0.75;
         * 21.6 x 0.8 + (21.6 x 0.75 + 4) x 0.2 = 17.28 + 4.04 = 21.32 */
        {21, 40 * MS, 21.32, 21, 2e7},
        /* app-limited: 5 < 21.32 / 2: no change; long = 70/4 = 17.5 ms,
         * 17.5/10 = 1.75: no decay */
        {5, 10 * MS, 21.32, 21, 1.75e7},
        /* long = 72/5 = 14.4 ms; 14.4/2 = 7.2 > 2: the stored average
         * decays to 14.4 x 0.95 = 13.68 ms, but the gradient uses 14.4:
         * min(1, 1.5 x 14.4/2) = 1: 21.32 + 0.8 = 22.12 */
        {21, 2 * MS, 22.12, 22, 1.368e7},
        /* warm-up: the mean is sum/count = 74/6 = 12.333 ms, the decay of
         * the last step is lost (Netflix issue #212); decays to 11.7167 */
        {22, 2 * MS, 22.92, 22, 11716666.666666666},
        {22, 2 * MS, 23.720000000000002, 23, 10314285.714285713},   /* 76/7 x 0.95 */
        {22, 2 * MS, 24.520000000000003, 24, 9262500.0},            /* 78/8 x 0.95 */
        {22, 2 * MS, 25.320000000000004, 25, 8444444.444444444},    /* 80/9 x 0.95 */
        {22, 2 * MS, 26.120000000000005, 26, 7790000.0},            /* 82/10 x 0.95 */
        /* warm-up over: long = 7.79 ms x 599/601 + 100 ms x 2/601 = 8.0969 ms;
         * gradient = max(0.5, 1.5 x 8.0969/100) = 0.5;
         * 26.12 x 0.8 + (26.12 x 0.5 + 4) x 0.2 = 0.9 x 26.12 + 0.8 = 24.308 */
        {30, 100 * MS, 24.308000000000007, 24, 8096855.241264559},
        {30, 100 * MS, 22.67720000000001, 22, 8402689.333639719},
    };
    g2_trace(&cl, st, (int)(sizeof st / sizeof st[0]));
}

Test(conclimit, gradient2_clamps_at_max_and_min)
{
    cl_spec_t s = cl_spec_default(CL_GRADIENT2);
    s.max_limit = 30;
    cl_t cl;
    cr_assert_eq(cl_init(&cl, &s), 0);
    cl.inflight = 100;
    /* + 0.8 per sample: 20.8, 21.6, ... 29.6, then 30.4 -> 30 */
    const int up[] = {20, 21, 22, 23, 24, 24, 25, 26, 27, 28, 28, 29, 30, 30};
    const double up_est[] = {20.8, 21.6, 22.400000000000002, 23.200000000000003, 24.000000000000004,
                             24.800000000000004, 25.600000000000005, 26.400000000000006,
                             27.200000000000006, 28.000000000000007, 28.800000000000008,
                             29.60000000000001, 30.0, 30.0};
    for (int i = 0; i < 14; i++) {
        cl_release(&cl, (cl_token_t){30}, 10 * MS, CL_SUCCESS);
        cr_assert_eq(cl_limit(&cl), up[i], "up %d", i);
        cr_assert_eq(cl_estimated_limit(&cl), up_est[i], "up %d: %.17g", i, cl_estimated_limit(&cl));
    }
    /* a 1 s RTT: gradient 0.5: L -> 0.9 L + 0.8: 27.8, 25.82, 24.038,
     * 22.4342, 20.99078, then 19.69... -> min 20 */
    const double down_est[] = {27.8, 25.82, 24.038000000000004, 22.434200000000004, 20.990780000000004,
                               20.0, 20.0};
    const int down[] = {27, 25, 24, 22, 20, 20, 20};
    for (int i = 0; i < 7; i++) {
        cl_release(&cl, (cl_token_t){30}, SEC, CL_SUCCESS);
        cr_assert_eq(cl_limit(&cl), down[i], "down %d", i);
        cr_assert_eq(cl_estimated_limit(&cl), down_est[i], "down %d: %.17g", i, cl_estimated_limit(&cl));
    }
}

Test(conclimit, gradient2_ignores_drops_and_treats_zero_rtt_as_one_ns)
{
    cl_spec_t s = cl_spec_default(CL_GRADIENT2);
    cl_t a, b;
    cr_assert_eq(cl_init(&a, &s), 0);
    cr_assert_eq(cl_init(&b, &s), 0);
    a.inflight = b.inflight = 5;
    for (int i = 0; i < 5; i++) {
        cl_release(&a, (cl_token_t){20}, 3 * MS, CL_SUCCESS);
        cl_release(&b, (cl_token_t){20}, 3 * MS, CL_DROPPED);
    }
    cr_assert_eq(cl_estimated_limit(&a), cl_estimated_limit(&b), "didDrop is not used by Gradient2");
    cr_assert_eq(b.drops, 5);
    cl_t z;
    cr_assert_eq(cl_init(&z, &s), 0);
    z.inflight = 2;
    cl_release(&z, (cl_token_t){20}, 0, CL_SUCCESS);
    cl_release(&z, (cl_token_t){20}, 0, CL_SUCCESS);
    cr_assert_eq(cl_limit(&z), 21, "rtt 0 -> 1 ns: gradient 1, no NaN");
    cr_assert_eq(cl_long_rtt(&z), 1.0);
}

/* ---- a line-by-line transcription of the Java, under random samples ---- */

typedef struct {   /* ExpAvgMeasurement(window, 10) */
    double value, sum;
    int count, window;
} ref_exp_t;

static double ref_exp_add(ref_exp_t *m, double sample)
{
    if (m->count < 10) {
        m->count++;
        m->sum += sample;
        m->value = m->sum / m->count;
    } else {
        double factor = 2.0 / (m->window + 1);
        volatile double a = m->value * (1 - factor), b = sample * factor;   /* Java: no FMA */
        m->value = a + b;
    }
    return m->value;
}

/* Math.max and Math.min for doubles (no NaN or -0.0 can occur here) */
static double java_max(double a, double b) { return a >= b ? a : b; }
static double java_min(double a, double b) { return a <= b ? a : b; }

typedef struct {   /* Gradient2Limit + AbstractLimit */
    double estimatedLimit;
    int limit;
    ref_exp_t longRtt;
} ref_g2_t;

static int ref_g2_update(ref_g2_t *g, const cl_spec_t *s, long rtt, int inflight)
{
    const double queueSize = s->queue_size;
    const double shortRtt = (double)rtt;
    const double longRtt = ref_exp_add(&g->longRtt, (double)rtt);
    if (longRtt / shortRtt > 2) {
        volatile double v = g->longRtt.value * 0.95;
        g->longRtt.value = v;
    }
    if (inflight < g->estimatedLimit / 2) return (int)g->estimatedLimit;
    const double gradient = java_max(0.5, java_min(1.0, s->rtt_tolerance * longRtt / shortRtt));
    volatile double p1 = g->estimatedLimit * gradient;
    double newLimit = p1 + queueSize;
    volatile double p2 = g->estimatedLimit * (1 - s->smoothing), p3 = newLimit * s->smoothing;
    newLimit = p2 + p3;
    newLimit = java_max(s->min_limit, java_min(s->max_limit, newLimit));
    g->estimatedLimit = newLimit;
    return (int)g->estimatedLimit;
}

static int ref_aimd_update(int currentLimit, const cl_spec_t *s, long rtt, int inflight, bool didDrop)
{
    if (didDrop || rtt > s->timeout) currentLimit = (int)(currentLimit * s->backoff_ratio);
    else if (inflight * 2 >= currentLimit) currentLimit = currentLimit + 1;
    int lo = currentLimit > s->min_limit ? currentLimit : s->min_limit;
    return s->max_limit < lo ? s->max_limit : lo;
}

/* Random arrivals and completions through cl_acquire/cl_release against
 * the transcription, fed the same (inflight, rtt, drop) samples. */
static void random_against_reference(const cl_spec_t *s, uint64_t seed)
{
    cl_t cl;
    cr_assert_eq(cl_init(&cl, s), 0);
    ref_g2_t ref = {.estimatedLimit = s->initial_limit, .limit = s->initial_limit,
                    .longRtt = {.window = s->long_window}};
    int ref_inflight = 0;
    enum { CAP = 4096 };
    static cl_token_t held[CAP];
    int n = 0;
    sim_rng_t rng;
    sim_rng_init(&rng, seed);
    int64_t rejected = 0, changes = 0, last = cl_limit(&cl);
    for (int i = 0; i < 300000; i++) {
        /* load in waves so that the limit both grows and shrinks */
        int wave = (i / 20000) % 3;
        bool arrive = n == 0 || (n < CAP && sim_rng_below(&rng, 100) < (uint64_t)(wave == 1 ? 70 : 45));
        if (arrive) {
            cl_token_t t;
            bool want = ref_inflight < ref.limit;
            bool got = cl_acquire(&cl, &t);
            cr_assert_eq(got, want, "step %d: admission differs (limit %d, inflight %d)", i, ref.limit,
                         ref_inflight);
            if (got) {
                ref_inflight++;
                cr_assert_eq(t.inflight, ref_inflight);
                held[n++] = t;
            } else {
                rejected++;
            }
            continue;
        }
        uint64_t k = sim_rng_below(&rng, (uint64_t)n);
        cl_token_t t = held[k];
        held[k] = held[--n];
        /* RTT grows with the load: queueing */
        sim_time_t rtt = (sim_time_t)(1 * MS + (sim_time_t)ref_inflight * 200 * SIM_US +
                                      (sim_time_t)sim_rng_below(&rng, 2 * MS));
        if (s->algorithm == CL_AIMD && sim_rng_below(&rng, 1000) == 0) rtt = 6 * SEC;
        uint64_t u = sim_rng_below(&rng, 100);
        cl_outcome_t outcome = u < 2 ? CL_DROPPED : u < 4 ? CL_IGNORED : CL_SUCCESS;
        ref_inflight--;
        if (outcome != CL_IGNORED) {
            ref.limit = s->algorithm == CL_AIMD
                            ? ref_aimd_update(ref.limit, s, rtt, t.inflight, outcome == CL_DROPPED)
                            : ref_g2_update(&ref, s, rtt, t.inflight);
        }
        cl_release(&cl, t, rtt, outcome);
        cr_assert_eq(cl_limit(&cl), ref.limit, "step %d: limit %d, want %d", i, cl_limit(&cl), ref.limit);
        if (s->algorithm == CL_GRADIENT2)
            cr_assert_eq(cl_estimated_limit(&cl), ref.estimatedLimit, "step %d: estimate", i);
        changes += cl_limit(&cl) != last;
        last = cl_limit(&cl);
    }
    cr_assert_gt(rejected, 1000, "the load must reach the limit (%lld rejected)", (long long)rejected);
    cr_assert_gt(changes, 100, "the limit must move (%lld changes)", (long long)changes);
}

Test(conclimit, aimd_matches_the_java_transcription_under_random_load)
{
    cl_spec_t s = aimd_spec(20, 5, 60, 0.9);
    random_against_reference(&s, 21);
}

Test(conclimit, gradient2_matches_the_java_transcription_under_random_load)
{
    cl_spec_t s = cl_spec_default(CL_GRADIENT2);
    s.min_limit = 5;
    s.max_limit = 80;
    s.long_window = 50;
    random_against_reference(&s, 22);
}

Test(conclimit, init_rejects_bad_specs)
{
    cl_t cl;
    cl_spec_t s = aimd_spec(20, 20, 200, 1.0);
    cr_expect_eq(cl_init(&cl, &s), SIM_EINVAL);
    s = aimd_spec(20, 30, 10, 0.9);
    cr_expect_eq(cl_init(&cl, &s), SIM_EINVAL);
    s = aimd_spec(0, 1, 10, 0.9);
    cr_expect_eq(cl_init(&cl, &s), SIM_EINVAL);
    s = cl_spec_default(CL_GRADIENT2);
    s.rtt_tolerance = 0.9;
    cr_expect_eq(cl_init(&cl, &s), SIM_EINVAL);
    s = cl_spec_default(CL_GRADIENT2);
    s.long_window = 0;
    cr_expect_eq(cl_init(&cl, &s), SIM_EINVAL);
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    sim_diag_t d;
    sim_cfg_t *cfg;
    cl_spec_t spec;
    int rc;
} parsed_t;

static void parse(parsed_t *p, const char *text)
{
    sim_diag_init(&p->d);
    p->cfg = sim_cfg_load_string("a.yaml", text, strlen(text), &p->d);
    cr_assert_not_null(p->cfg, "%s", sim_diag_text(&p->d));
    p->rc = cl_spec_parse(&p->d, sim_cfg_get(sim_cfg_root(p->cfg), "adaptive_concurrency"), &p->spec);
    sim_cfg_check_unused(p->cfg, &p->d);
}

static void done(parsed_t *p)
{
    sim_cfg_destroy(p->cfg);
    sim_diag_fini(&p->d);
}

Test(conclimit, parse_aimd_and_gradient2)
{
    parsed_t p;
    parse(&p, "adaptive_concurrency:\n"
              "  algorithm: aimd\n"
              "  initial_limit: 40\n"
              "  min_limit: 10\n"
              "  max_limit: 400\n"
              "  backoff_ratio: 0.75\n"
              "  timeout: 800ms\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors + p.d.warnings, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.algorithm, CL_AIMD);
    cr_expect_eq(p.spec.initial_limit, 40);
    cr_expect_eq(p.spec.min_limit, 10);
    cr_expect_eq(p.spec.max_limit, 400);
    cr_expect_eq(p.spec.backoff_ratio, 0.75);
    cr_expect_eq(p.spec.timeout, 800 * MS);
    done(&p);
    parse(&p, "adaptive_concurrency: {algorithm: gradient2, smoothing: 0.5, queue_size: 8, "
              "rtt_tolerance: 2, long_window: 100, max_limit: 1000}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors + p.d.warnings, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.algorithm, CL_GRADIENT2);
    cr_expect_eq(p.spec.smoothing, 0.5);
    cr_expect_eq(p.spec.queue_size, 8);
    cr_expect_eq(p.spec.rtt_tolerance, 2.0);
    cr_expect_eq(p.spec.long_window, 100);
    cr_expect_eq(p.spec.max_limit, 1000);
    cr_expect_eq(p.spec.initial_limit, 20);
    done(&p);
    /* defaults: gradient2 with Netflix's builder values */
    parse(&p, "adaptive_concurrency:\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.algorithm, CL_GRADIENT2);
    cr_expect_eq(p.spec.min_limit, 20);
    cr_expect_eq(p.spec.max_limit, 200);
    cr_expect_eq(p.spec.smoothing, 0.2);
    cr_expect_eq(p.spec.queue_size, 4);
    cr_expect_eq(p.spec.rtt_tolerance, 1.5);
    cr_expect_eq(p.spec.long_window, 600);
    done(&p);
    cl_spec_t s;
    cr_assert_eq(cl_spec_parse(NULL, NULL, &s), 0);
    cr_expect_eq(s.algorithm, CL_GRADIENT2);
    s = cl_spec_default(CL_AIMD);
    cr_expect_eq(s.backoff_ratio, 0.9);
    cr_expect_eq(s.timeout, 5 * SEC);
}

Test(conclimit, parse_warns_about_an_initial_limit_outside_the_range)
{
    parsed_t p;
    parse(&p, "adaptive_concurrency:\n  algorithm: aimd\n  initial_limit: 500\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.d.warnings, 1);
    cr_expect(strstr(sim_diag_text(&p.d),
                     "a.yaml:3:18: warning: 'initial_limit' (500) is outside [min_limit, max_limit] = [20, 200]"),
              "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.initial_limit, 500);
    done(&p);
}

static void expect_errors(const char *text, const char *const *msgs)
{
    parsed_t p;
    parse(&p, text);
    cr_expect(p.d.errors > 0, "no error for:\n%s", text);
    if (!strstr(msgs[0], "unknown key")) cr_expect_eq(p.rc, SIM_ECONFIG, "%s", msgs[0]);
    for (int i = 0; msgs[i]; i++)
        cr_expect(strstr(sim_diag_text(&p.d), msgs[i]), "want\n  %s\ngot\n%s", msgs[i], sim_diag_text(&p.d));
    done(&p);
}

Test(conclimit, parse_errors_have_positions)
{
    expect_errors("adaptive_concurrency:\n  algorithm: vegas\n",
                  (const char *[]){"a.yaml:2:14: error: 'adaptive_concurrency.algorithm': expected one of "
                                   "aimd, gradient2, got 'vegas'", NULL});
    expect_errors("adaptive_concurrency:\n  algorithm: aimd\n  smoothing: 0.3\n",
                  (const char *[]){"a.yaml:3:3: error: 'smoothing' is a parameter of the gradient2 "
                                   "algorithm, but 'algorithm' is aimd (remove it or change the algorithm)\n",
                                   NULL});
    expect_errors("adaptive_concurrency:\n  backoff_ratio: 0.8\n  long_window: 10\n",
                  (const char *[]){"a.yaml:2:3: error: 'backoff_ratio' is a parameter of the aimd "
                                   "algorithm, but 'algorithm' is gradient2", NULL});
    expect_errors("adaptive_concurrency:\n  algorithm: aimd\n  backoff_ratio: 1\n",
                  (const char *[]){"a.yaml:3:18: error: 'adaptive_concurrency.backoff_ratio': expected a "
                                   "number >= 0.5 and < 1", NULL});
    expect_errors("adaptive_concurrency:\n  algorithm: aimd\n  backoff_ratio: 0.3\n",
                  (const char *[]){"a.yaml:3:18: error: 'adaptive_concurrency.backoff_ratio': expected a "
                                   "number between 0.5 and 1, got '0.3'", NULL});
    expect_errors("adaptive_concurrency:\n  algorithm: aimd\n  timeout: 0s\n",
                  (const char *[]){"a.yaml:3:12: error: 'adaptive_concurrency.timeout': expected a duration > 0",
                                   NULL});
    expect_errors("adaptive_concurrency:\n  min_limit: 0\n",
                  (const char *[]){"a.yaml:2:14: error: 'adaptive_concurrency.min_limit': expected an "
                                   "integer between 1 and 1000000, got '0'", NULL});
    expect_errors("adaptive_concurrency:\n  min_limit: 50\n  max_limit: 40\n",
                  (const char *[]){"a.yaml:3:14: error: 'min_limit' (50) must not exceed 'max_limit' (40)",
                                   NULL});
    expect_errors("adaptive_concurrency:\n  rtt_tolerance: 0.9\n",
                  (const char *[]){"a.yaml:2:18: error: 'adaptive_concurrency.rtt_tolerance': expected a "
                                   "number between 1 and", NULL});
    expect_errors("adaptive_concurrency:\n  smoothing: 1.5\n",
                  (const char *[]){"a.yaml:2:14: error: 'adaptive_concurrency.smoothing': expected a "
                                   "number between 0 and 1, got '1.5'", NULL});
    expect_errors("adaptive_concurrency:\n  queue_size: -1\n",
                  (const char *[]){"a.yaml:2:15: error: 'adaptive_concurrency.queue_size': expected an "
                                   "integer between 0 and 1000000", NULL});
    expect_errors("adaptive_concurrency:\n  max_limt: 40\n",
                  (const char *[]){"a.yaml:2:3: error: unknown key 'max_limt'", "(did you mean 'max_limit'?)",
                                   NULL});
    expect_errors("adaptive_concurrency: 5\n",
                  (const char *[]){"a.yaml:1:23: error: 'adaptive_concurrency': expected a mapping", NULL});
}
