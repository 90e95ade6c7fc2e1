/* The LLM model against hand-computed schedules: TTFT + TPOT latencies,
 * continuous batching as processor sharing, admission by slots and KV,
 * caller timeouts, kills and restarts, speed changes, parsing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/call.h"
#include "models/components/llm/llm.h"
#include "sim/cfg.h"
#include "sim/error.h"

#define MAXC 2048

/* One run: the LLM, a call pool, and what each call's owner was told. */
typedef struct {
    sim_t *sim;
    llm_t *llm;
    call_pool_t pool;
    llm_spec_t spec;
    int64_t tin[MAXC], tout[MAXC];
    sim_time_t timeout[MAXC];     /* 0: none */
    sim_time_t at[MAXC];          /* when the owner was told */
    int status[MAXC];
    int ntold[MAXC];
    int replica[MAXC];            /* replica chosen (-1: none) */
    int n;
} fix_t;

static fix_t F;

static void on_done(sim_t *sim, call_t *c, call_status_t s)
{
    fix_t *f = &F;   /* c->owner is already NULL when the owner is told */
    f->at[c->tag] = sim_now(sim);
    f->status[c->tag] = (int)s;
    f->ntold[c->tag]++;
}

static void submit_event(sim_t *sim, void *obj, uint64_t i)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, on_done, i, sim_now(sim));
    cr_assert_not_null(c);
    c->tokens_in = f->tin[i];
    c->tokens_out = f->tout[i];
    if (f->timeout[i] > 0) call_set_timeout(sim, c, f->timeout[i]);
    llm_submit(f->llm, c);
    /* c may be freed by now (synchronous completion): read nothing from it
     * unless the owner has not been told. */
    f->replica[i] = f->ntold[i] ? -1 : c->replica;
}

/* Call i: `in` prompt tokens, `out` output tokens, submitted at t. */
static int add(sim_time_t t, int64_t in, int64_t out)
{
    int i = F.n++;
    cr_assert_lt(i, MAXC);
    F.tin[i] = in;
    F.tout[i] = out;
    F.status[i] = -1;
    sim_schedule_at(F.sim, t, submit_event, &F, (uint64_t)i);
    return i;
}

static void start_cfg(const llm_spec_t *spec, const sim_config_t *cfg)
{
    memset(&F, 0, sizeof F);
    F.spec = *spec;
    F.sim = sim_create(cfg);
    cr_assert_not_null(F.sim);
    call_pool_init(&F.pool);
    F.llm = llm_create(F.sim, &F.spec);
    cr_assert_not_null(F.llm);
}

static void start(const llm_spec_t *spec)
{
    sim_config_t cfg = {.master_seed = 1};
    start_cfg(spec, &cfg);
}

static void stop(void)
{
    llm_destroy(F.llm);
    sim_destroy(F.sim);
    call_pool_fini(&F.pool);
}

/* Pure processor sharing: TPOT(b) = tpot x b, no prefill. */
static llm_spec_t ps_spec(void)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.tpot = 10 * SIM_MS;
    s.tpot_batch_knee = 1;
    s.prefill_base = 0;
    s.prefill_per_token = 0;
    return s;
}

#define MS(x) ((sim_time_t)(x) * SIM_MS)

static void assert_told(int i, sim_time_t t, call_status_t s)
{
    cr_assert_eq(F.ntold[i], 1, "call %d: owner told %d times", i, F.ntold[i]);
    cr_assert_eq(F.status[i], (int)s, "call %d: status %s, expected %s", i,
                 call_status_name((call_status_t)F.status[i]), call_status_name(s));
    cr_assert_eq(F.at[i], t, "call %d: told at %lld ns, expected %lld ns", i, (long long)F.at[i],
                 (long long)t);
}

/* ---- latencies ------------------------------------------------------------ */

Test(llm, latency_functions_follow_the_spec)
{
    llm_spec_t s;
    llm_spec_default(&s);
    cr_assert_float_eq(llm_ttft(&s, 1000), 0.070, 1e-12);       /* 20ms + 1000 x 50us */
    cr_assert_float_eq(llm_ttft(&s, 0), 0.020, 1e-12);
    cr_assert_float_eq(llm_tpot(&s, 1), 0.010, 1e-12);
    cr_assert_float_eq(llm_tpot(&s, 64), 0.010, 1e-12);          /* flat up to the knee */
    cr_assert_float_eq(llm_tpot(&s, 128), 0.020, 1e-12);         /* then linear in b */
    cr_assert_float_eq(llm_tpot(&s, 96), 0.015, 1e-12);
}

Test(llm, single_sequence_takes_ttft_plus_tokens_times_tpot)
{
    llm_spec_t s;
    llm_spec_default(&s);
    start(&s);
    int a = add(MS(5), 1000, 100);
    sim_run(F.sim, 10 * SIM_SEC);
    /* 5 ms + 70 ms prefill + 100 x 10 ms */
    assert_told(a, MS(5) + MS(70) + MS(1000), CALL_OK);
    cr_assert_eq(F.at[a] - MS(5), llround((llm_ttft(&s, 1000) + 100 * llm_tpot(&s, 1)) * 1e9));
    cr_assert_eq(F.llm->st.output_tokens, 100);
    cr_assert_float_eq(F.llm->st.decoded_tokens, 100.0, 1e-6);
    cr_assert_eq(F.llm->st.completed[CALL_OK], 1);
    cr_assert_eq(F.pool.live, 0);
    stop();
}

Test(llm, zero_output_tokens_end_after_prefill)
{
    llm_spec_t s;
    llm_spec_default(&s);
    start(&s);
    int a = add(0, 200, 0);
    sim_run(F.sim, SIM_SEC);
    assert_told(a, MS(30), CALL_OK);
    stop();
}

static void run_batch(int b, int64_t knee, sim_time_t expect)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.tpot_batch_knee = knee;
    start(&s);
    for (int i = 0; i < b; i++) add(0, 100, 50);
    sim_run(F.sim, 100 * SIM_SEC);
    for (int i = 0; i < b; i++) assert_told(i, expect, CALL_OK);
    cr_assert_float_eq(llm_mean_batch(F.llm), (double)b, 1e-9);
    stop();
}

Test(llm, fixed_batch_below_the_knee_keeps_tpot_flat)
{
    /* TTFT = 20 ms + 100 x 50 us = 25 ms; TPOT(4) = 10 ms (knee 4) */
    run_batch(4, 4, MS(25) + 50 * MS(10));
}

Test(llm, fixed_batch_above_the_knee_grows_tpot_linearly)
{
    /* TPOT(8) = 10 ms x 8 / 4 = 20 ms */
    run_batch(8, 4, MS(25) + 50 * MS(20));
    /* TPOT(12) = 10 ms x 12 / 8 = 15 ms */
    run_batch(12, 8, MS(25) + 50 * MS(15));
}

/* ---- continuous batching -------------------------------------------------- */

Test(llm, continuous_batching_hand_trace_two_sequences)
{
    /* A (10 tokens) alone for 50 ms: 5 tokens. Then A and B at 20 ms per
     * token each: A's last 5 tokens take 100 ms -> 150 ms; B has 5 by then,
     * then alone: 5 x 10 ms -> 200 ms. */
    llm_spec_t s = ps_spec();
    start(&s);
    int a = add(0, 0, 10);
    int b = add(MS(50), 0, 10);
    sim_run(F.sim, MS(100));
    cr_assert_eq(llm_decoding(F.llm, 0), 2);
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(a, MS(150), CALL_OK);
    assert_told(b, MS(200), CALL_OK);
    /* b = 1 for 50 ms, 2 for 100 ms, 1 for 50 ms */
    cr_assert_float_eq(llm_mean_batch(F.llm), 300.0 / 200.0, 1e-12);
    stop();
}

Test(llm, continuous_batching_hand_trace_three_sequences)
{
    /* t=0: A (10) and B (2), 20 ms/token: V(30ms) = 1.5.
     * t=30: C (4) joins, target 5.5; 30 ms/token: B's last 0.5 -> 45 ms, V = 2.
     * t=45: A, C at 20 ms/token: C's 3.5 left -> 45 + 70 = 115 ms, V = 5.5.
     * t=115: A alone, 4.5 left -> 160 ms. */
    llm_spec_t s = ps_spec();
    start(&s);
    int a = add(0, 0, 10);
    int b = add(0, 0, 2);
    int c = add(MS(30), 0, 4);
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(b, MS(45), CALL_OK);
    assert_told(c, MS(115), CALL_OK);
    assert_told(a, MS(160), CALL_OK);
    stop();
}

Test(llm, processor_sharing_conserves_work_over_many_sequences)
{
    /* With knee 1 the replica decodes 1/tpot tokens per second whatever the
     * batch, so the busy period that starts with the first arrival ends
     * exactly
     * sum(tokens) x tpot later however arrivals interleave: a test of the virtual
     * clock's arithmetic over ~1000 reschedules. */
    llm_spec_t s = ps_spec();
    s.max_num_seqs = 4096;
    start(&s);
    int64_t sum = 0;
    sim_time_t first = SIM_TIME_MAX;
    uint64_t x = 12345;
    for (int i = 0; i < 1000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t out = 1 + (int64_t)((x >> 33) % 100);
        sum += out;
        sim_time_t t = (sim_time_t)((x >> 20) % 1000) * SIM_MS + i;
        if (t < first) first = t;
        add(t, 0, out);
    }
    sim_run(F.sim, SIM_HOUR);
    sim_time_t last = 0;
    int ok = 0;
    for (int i = 0; i < F.n; i++) {
        if (F.at[i] > last) last = F.at[i];
        ok += F.status[i] == CALL_OK && F.ntold[i] == 1;
    }
    cr_assert_eq(ok, 1000);
    cr_assert_eq(F.pool.live, 0);
    sim_time_t expect = first + sum * MS(10);
    cr_assert(llabs(last - expect) <= 1000, "last completion %lld ns, expected %lld ns",
              (long long)last, (long long)expect);
    cr_assert_eq(F.llm->st.output_tokens, (uint64_t)sum);
    cr_assert_float_eq(F.llm->st.decoded_tokens, (double)sum, 1e-6 * (double)sum);
    stop();
}

/* Reference: processor sharing stepped from event to event with long double
 * remaining work per sequence, O(n^2). Decode entry times are given. */
static void ps_reference(const llm_spec_t *s, int n, const long double *enter, const int64_t *out,
                         long double *end)
{
    static long double rem[MAXC];
    static bool in[MAXC], fin[MAXC];
    memset(in, 0, sizeof in);
    memset(fin, 0, sizeof fin);
    long double t = 0;
    for (int left = n; left > 0;) {
        int b = 0;
        long double next_in = INFINITY, min_rem = INFINITY;
        for (int i = 0; i < n; i++) {
            if (in[i] && !fin[i]) {
                b++;
                if (rem[i] < min_rem) min_rem = rem[i];
            } else if (!in[i] && enter[i] < next_in) {
                next_in = enter[i];
            }
        }
        long double tp = b <= s->tpot_batch_knee ? (long double)s->tpot
                                                 : (long double)s->tpot * b / s->tpot_batch_knee;
        long double t_done = b ? t + min_rem * tp : INFINITY;
        long double tn = next_in < t_done ? next_in : t_done;
        for (int i = 0; i < n; i++)
            if (in[i] && !fin[i]) rem[i] -= (tn - t) / tp;
        t = tn;
        for (int i = 0; i < n; i++) {
            if (in[i] && !fin[i] && rem[i] <= 1e-12L) {
                fin[i] = true;
                end[i] = t;
                left--;
            } else if (!in[i] && enter[i] <= t) {
                in[i] = true;
                rem[i] = (long double)out[i];
            }
        }
    }
}

Test(llm, virtual_clock_matches_a_brute_force_reference_to_the_ns)
{
    /* Awkward numbers: TPOT(b) = 7 ms x b / 3 above the knee is not a whole
     * number of ns, prefill 3 ms + 17 us per token. */
    llm_spec_t s;
    llm_spec_default(&s);
    s.tpot = 7 * SIM_MS;
    s.tpot_batch_knee = 3;
    s.prefill_base = 3 * SIM_MS;
    s.prefill_per_token = 17 * SIM_US;
    s.max_num_seqs = 4096;            /* no admission waits: decode entry = arrival + TTFT */
    s.kv_cache = INT64_MAX;
    start(&s);
    enum { N = 300 };
    static long double enter[N], end[N];
    static int64_t outs[N];
    uint64_t x = 99;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        sim_time_t t = (sim_time_t)((x >> 17) % 20000000000ull);   /* within 20 s */
        int64_t in = (int64_t)((x >> 40) % 2000);
        outs[i] = 1 + (int64_t)((x >> 28) % 300);
        enter[i] = (long double)(t + s.prefill_base + s.prefill_per_token * in);
        add(t, in, outs[i]);
    }
    sim_run(F.sim, SIM_HOUR);
    ps_reference(&s, N, enter, outs, end);
    /* Completions fall on the next whole ns: 0 <= sim - reference < 1 ns
     * (up to float noise). */
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++) {
        long double e = (long double)F.at[i] - end[i];
        if (e < -0.01L || e > 1.01L) bad = i;
    }
    cr_assert(bad < 0, "call %d: %lld ns, reference %.3Lf ns", bad, (long long)F.at[bad], end[bad]);
    cr_assert_eq(F.pool.live, 0);
    stop();
}

/* ---- admission ------------------------------------------------------------ */

Test(llm, max_num_seqs_holds_the_third_until_a_slot_frees)
{
    /* Flat TPOT 10 ms, prefill 20 ms. A (5) ends 20 + 50 = 70 ms; B (10)
     * ends 120 ms; C waits until 70 ms, then 20 + 100 -> 190 ms. */
    llm_spec_t s;
    llm_spec_default(&s);
    s.max_num_seqs = 2;
    s.prefill_per_token = 0;
    start(&s);
    int a = add(0, 10, 5);
    int b = add(0, 10, 10);
    int c = add(0, 10, 10);
    sim_run(F.sim, MS(60));
    cr_assert_eq(llm_active(F.llm, 0), 2);
    cr_assert_eq(llm_waiting(F.llm, 0), 1);
    sim_run(F.sim, MS(80));
    cr_assert_eq(llm_active(F.llm, 0), 2);
    cr_assert_eq(llm_waiting(F.llm, 0), 0);
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(a, MS(70), CALL_OK);
    assert_told(b, MS(120), CALL_OK);
    assert_told(c, MS(190), CALL_OK);
    stop();
}

Test(llm, kv_admission_is_fifo_head_of_line_and_oversized_fails)
{
    /* Cache 100 tokens. A reserves 60 (ends 20 + 100 = 120 ms), E 30 (ends
     * 20 + 50 = 70 ms); B (50) does not fit and waits; C (10) would fit but
     * waits behind B, also when E's end frees 30; D (101) can never fit:
     * error at once. At 120 ms B and C start: B ends 240 ms, C 190 ms
     * (70 ms, or 140 ms, if it could skip B). */
    llm_spec_t s;
    llm_spec_default(&s);
    s.kv_bytes_per_token = 1024;
    s.kv_cache = 100 * 1024;
    s.prefill_per_token = 0;
    start(&s);
    int a = add(0, 50, 10);
    int e = add(0, 25, 5);
    int b = add(0, 40, 10);
    int c = add(0, 5, 5);
    int d = add(0, 100, 1);
    sim_run(F.sim, MS(60));
    assert_told(d, 0, CALL_ERROR);
    cr_assert_eq(llm_active(F.llm, 0), 2);
    cr_assert_eq(llm_waiting(F.llm, 0), 2);
    cr_assert_float_eq(llm_kv_usage(F.llm, 0), 0.90, 1e-12);
    sim_run(F.sim, MS(100));
    cr_assert_eq(llm_active(F.llm, 0), 1);
    cr_assert_eq(llm_waiting(F.llm, 0), 2);
    cr_assert_float_eq(llm_kv_usage(F.llm, 0), 0.60, 1e-12);
    sim_run(F.sim, MS(130));
    cr_assert_float_eq(llm_kv_usage(F.llm, -1), 0.60, 1e-12);   /* B 50 + C 10 */
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(e, MS(70), CALL_OK);
    assert_told(a, MS(120), CALL_OK);
    assert_told(b, MS(240), CALL_OK);
    assert_told(c, MS(190), CALL_OK);
    cr_assert_float_eq(llm_kv_usage(F.llm, 0), 0.0, 1e-12);
    stop();
}

Test(llm, queue_limit_rejects_the_next_waiting_call)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.max_num_seqs = 1;
    s.queue_limit = 2;
    s.prefill_per_token = 0;
    start(&s);
    int id[4];
    for (int i = 0; i < 4; i++) id[i] = add(MS(1), 0, 1);
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(id[3], MS(1), CALL_REJECTED);
    assert_told(id[0], MS(1) + MS(30), CALL_OK);
    assert_told(id[1], MS(1) + MS(60), CALL_OK);
    assert_told(id[2], MS(1) + MS(90), CALL_OK);
    cr_assert_eq(F.llm->st.completed[CALL_REJECTED], 1);
    cr_assert_eq(F.llm->st.completed[CALL_OK], 3);
    stop();
}

/* ---- naive server: timeouts do not cancel ---------------------------------- */

Test(llm, caller_timeout_leaves_the_sequence_running_in_its_slot)
{
    /* One slot. A (100 tokens, ends 20 + 1000 ms) times out at 50 ms but
     * keeps running; B, sent at 60 ms, waits for A's slot: 1020 + 20 + 10. */
    llm_spec_t s;
    llm_spec_default(&s);
    s.max_num_seqs = 1;
    s.prefill_per_token = 0;
    start(&s);
    int a = add(0, 10, 100);
    F.timeout[a] = MS(50);
    int b = add(MS(60), 10, 1);
    sim_run(F.sim, MS(70));
    assert_told(a, MS(50), CALL_TIMEOUT);
    cr_assert_eq(llm_active(F.llm, 0), 1);
    cr_assert_eq(llm_waiting(F.llm, 0), 1);
    cr_assert_eq(F.pool.live, 2);
    sim_run(F.sim, MS(1020) - 1);
    cr_assert_eq(F.pool.live, 2);
    sim_run(F.sim, MS(1020));
    cr_assert_eq(F.pool.live, 1);             /* A completed, its result discarded */
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(a, MS(50), CALL_TIMEOUT);     /* still told exactly once */
    assert_told(b, MS(1050), CALL_OK);
    cr_assert_eq(F.llm->st.orphaned, 1);
    cr_assert_eq(F.llm->st.completed[CALL_OK], 2);
    stop();
}

/* ---- faults --------------------------------------------------------------- */

static void kill_event(sim_t *sim, void *obj, uint64_t r)
{
    (void)sim;
    llm_kill(obj, (int)(int64_t)r);
}

static int count_log(const char *kind, const char *source, sim_time_t *when)
{
    const sim_table_t *t = sim_log_table(F.sim);
    int ck = sim_table_find_col(t, "kind"), cs = sim_table_find_col(t, "source");
    int ct = sim_table_find_col(t, "time_ns");
    int n = 0;
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(sim_table_get_str(t, i, ck), kind) == 0 &&
            strcmp(sim_table_get_str(t, i, cs), source) == 0) {
            if (when) when[n] = sim_table_get_i64(t, i, ct);
            n++;
        }
    return n;
}

Test(llm, kill_fails_in_flight_calls_and_the_balancer_avoids_the_replica)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.replicas = 2;
    s.prefill_per_token = 0;
    s.max_num_seqs = 1;
    start(&s);
    int a = add(0, 0, 100);          /* replica 0 (least outstanding, lowest index) */
    int b = add(0, 0, 100);          /* replica 1 */
    int w = add(MS(1), 0, 100);      /* waits on replica 0 */
    sim_schedule_at(F.sim, MS(100), kill_event, F.llm, 0);
    int c = add(MS(200), 0, 10);     /* replica 0 is down: goes to 1, waits for b */
    int d = add(71 * SIM_SEC, 0, 1); /* replica 0 back, nothing outstanding anywhere */
    sim_run(F.sim, MS(150));
    cr_assert_eq(F.replica[a], 0);
    cr_assert_eq(F.replica[b], 1);
    cr_assert_eq(F.replica[w], 0);
    assert_told(a, MS(100), CALL_ERROR);
    assert_told(w, MS(100), CALL_ERROR);
    cr_assert_eq(llm_replicas_up(F.llm), 1);
    cr_assert_eq(llm_ops.replicas_up(F.llm), 1);
    cr_assert_eq(llm_active(F.llm, 0), 0);
    sim_run(F.sim, 100 * SIM_SEC);
    cr_assert_eq(F.replica[c], 1);
    cr_assert_eq(F.replica[d], 0);
    assert_told(d, 71 * SIM_SEC + MS(30), CALL_OK);
    assert_told(b, MS(1020), CALL_OK);
    assert_told(c, MS(1020) + MS(120), CALL_OK);
    sim_time_t when[4];
    cr_assert_eq(count_log("replica_killed", "llm/0", when), 1);
    cr_assert_eq(when[0], MS(100));
    cr_assert_eq(count_log("replica_restarted", "llm/0", when), 1);
    cr_assert_eq(when[0], MS(100) + 10 * SIM_SEC + 60 * SIM_SEC);
    cr_assert_eq(llm_replicas_up(F.llm), 2);
    cr_assert_eq(F.llm->st.completed[CALL_ERROR], 2);
    stop();
}

Test(llm, single_replica_kill_makes_calls_unavailable_and_backoff_doubles)
{
    llm_spec_t s;
    llm_spec_default(&s);
    start(&s);
    int a = add(0, 0, 100);
    sim_schedule_at(F.sim, MS(100), kill_event, F.llm, (uint64_t)-1);
    int u = add(SIM_SEC, 0, 10);
    sim_time_t up1 = MS(100) + 10 * SIM_SEC + 60 * SIM_SEC;
    int v = add(up1 + MS(1), 0, 1);
    sim_time_t k2 = 80 * SIM_SEC;
    sim_schedule_at(F.sim, k2, kill_event, F.llm, 0);
    sim_time_t up2 = k2 + 20 * SIM_SEC + 60 * SIM_SEC;
    sim_run(F.sim, up1 - 1);
    assert_told(a, MS(100), CALL_ERROR);
    assert_told(u, SIM_SEC, CALL_UNAVAILABLE);
    cr_assert_eq(llm_replicas_up(F.llm), 0);
    cr_assert(!llm_replica_up(F.llm, 0));
    sim_run(F.sim, up1);
    cr_assert_eq(llm_replicas_up(F.llm), 1);
    sim_run(F.sim, up2 - 1);
    assert_told(v, up1 + MS(31), CALL_OK);
    cr_assert_eq(llm_replicas_up(F.llm), 0);
    sim_run(F.sim, up2);
    cr_assert_eq(llm_replicas_up(F.llm), 1);
    /* Third crash 490 s after the restart: 40 s; the fourth after a full
     * `reset` (10 min) of uptime starts again from 10 s. */
    sim_schedule_at(F.sim, 650 * SIM_SEC, kill_event, F.llm, 0);
    sim_schedule_at(F.sim, 1350 * SIM_SEC, kill_event, F.llm, 0);
    sim_run(F.sim, 3000 * SIM_SEC);
    sim_time_t when[4];
    cr_assert_eq(count_log("replica_killed", "llm/0", NULL), 4);
    cr_assert_eq(count_log("replica_restarted", "llm/0", when), 4);
    cr_assert_eq(when[0], up1);
    cr_assert_eq(when[1], up2);
    cr_assert_eq(when[2], (650 + 40 + 60) * SIM_SEC);
    cr_assert_eq(when[3], (1350 + 10 + 60) * SIM_SEC);
    cr_assert_eq(F.llm->st.kills, 4);
    stop();
}

static void speed_event(sim_t *sim, void *obj, uint64_t permille)
{
    (void)sim;
    llm_ops.set_speed(obj, (double)permille / 1000.0);
}

Test(llm, half_speed_doubles_the_remaining_decode_and_later_prefills)
{
    /* A: prefill 20 ms, decode from 20 ms; at 70 ms 5 of 10 tokens are done;
     * at half speed the other 5 take 100 ms -> 170 ms. B at 200 ms: prefill
     * 20 ms / 0.5 = 40 ms, 1 token 20 ms -> 260 ms. */
    llm_spec_t s;
    llm_spec_default(&s);
    s.prefill_per_token = 0;
    start(&s);
    int a = add(0, 0, 10);
    sim_schedule_at(F.sim, MS(70), speed_event, F.llm, 500);
    int b = add(MS(200), 0, 1);
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(a, MS(170), CALL_OK);
    assert_told(b, MS(260), CALL_OK);
    stop();
}

Test(llm, speed_change_during_prefill_spares_the_running_prefill)
{
    /* A starts prefill (20 ms) at 0; speed halves at 10 ms: the prefill still
     * ends at 20 ms, then 10 tokens at 20 ms -> 220 ms. */
    llm_spec_t s;
    llm_spec_default(&s);
    s.prefill_per_token = 0;
    start(&s);
    int a = add(0, 0, 10);
    sim_schedule_at(F.sim, MS(10), speed_event, F.llm, 500);
    sim_run(F.sim, 10 * SIM_SEC);
    assert_told(a, MS(220), CALL_OK);
    stop();
}

/* ---- time series and warm-up ---------------------------------------------- */

Test(llm, time_series_sample_state_and_token_rate)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.prefill_per_token = 0;
    sim_config_t cfg = {.master_seed = 1, .sample_interval = MS(500)};
    start_cfg(&s, &cfg);
    add(0, 0, 100);      /* decodes 20 ms .. 1020 ms */
    add(0, 0, 100);
    sim_run(F.sim, MS(1500));
    int ca = -1, ct = -1, cu = -1, cq = -1, ck = -1;
    for (size_t i = 0; i < sim_series_count(F.sim); i++) {
        const char *nm = sim_series_name(F.sim, i);
        if (!strcmp(nm, "llm_active_sequences")) ca = (int)i;
        if (!strcmp(nm, "llm_output_tokens_per_second")) ct = (int)i;
        if (!strcmp(nm, "llm_replicas_up")) cu = (int)i;
        if (!strcmp(nm, "llm_queue_length")) cq = (int)i;
        if (!strcmp(nm, "llm_kv_cache_usage_ratio")) ck = (int)i;
    }
    cr_assert(ca >= 0 && ct >= 0 && cu >= 0 && cq >= 0 && ck >= 0);
    cr_assert_eq(sim_series_samples(F.sim), 3);
    const double *act = sim_series_data(F.sim, (size_t)ca);
    const double *tps = sim_series_data(F.sim, (size_t)ct);
    cr_assert_float_eq(act[0], 2.0, 1e-12);
    cr_assert_float_eq(act[2], 0.0, 1e-12);
    /* [0, .5 s]: 2 x 48 tokens; [.5, 1]: 2 x 50; [1, 1.5]: 2 x 2 */
    cr_assert_float_eq(tps[0], 192.0, 1e-6);
    cr_assert_float_eq(tps[1], 200.0, 1e-6);
    cr_assert_float_eq(tps[2], 8.0, 1e-6);
    cr_assert_float_eq(sim_series_data(F.sim, (size_t)cu)[0], 1.0, 1e-12);
    cr_assert_float_eq(sim_series_data(F.sim, (size_t)ck)[0], 200.0 * 512 * 1024 / (40.0 * (1 << 30)), 1e-15);
    stop();
}

Test(llm, warmup_resets_the_statistics)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.prefill_per_token = 0;
    sim_config_t cfg = {.master_seed = 1, .warmup = MS(500)};
    start_cfg(&s, &cfg);
    add(0, 0, 10);       /* ends 120 ms, before the warm-up */
    add(MS(400), 0, 10); /* decodes 420 .. 520 ms: 2 tokens after the warm-up */
    sim_run(F.sim, 10 * SIM_SEC);
    cr_assert_eq(F.llm->st.completed[CALL_OK], 1);
    cr_assert_eq(F.llm->st.output_tokens, 10);
    cr_assert_float_eq(F.llm->st.decoded_tokens, 2.0, 1e-9);
    cr_assert_float_eq(F.llm->st.decode_busy, (double)MS(20), 1.0);
    stop();
}

/* ---- determinism ---------------------------------------------------------- */

static void run_errors(uint64_t seed, sim_time_t *at, int *status)
{
    llm_spec_t s;
    llm_spec_default(&s);
    s.replicas = 3;
    s.load_balancer = LB_POWER_OF_TWO;
    sim_config_t cfg = {.master_seed = seed};
    start_cfg(&s, &cfg);
    llm_ops.set_error_ratio(F.llm, 0.3);
    for (int i = 0; i < 200; i++) add((sim_time_t)i * MS(7), 100 + (i * 37) % 900, 1 + (i * 13) % 200);
    sim_run(F.sim, SIM_HOUR);
    memcpy(at, F.at, 200 * sizeof *at);
    memcpy(status, F.status, 200 * sizeof *status);
    stop();
}

Test(llm, same_seed_same_completions_with_error_injection)
{
    static sim_time_t at1[200], at2[200], at3[200];
    static int st1[200], st2[200], st3[200];
    run_errors(7, at1, st1);
    run_errors(7, at2, st2);
    run_errors(8, at3, st3);
    int errors = 0, ok = 0, differ = 0;
    for (int i = 0; i < 200; i++) {
        errors += st1[i] == CALL_ERROR;
        ok += st1[i] == CALL_OK;
        differ += st1[i] != st3[i] || at1[i] != at3[i];
    }
    cr_assert_eq(memcmp(at1, at2, sizeof at1), 0);
    cr_assert_eq(memcmp(st1, st2, sizeof st1), 0);
    cr_assert_eq(errors + ok, 200);
    cr_assert(errors > 30 && errors < 90, "%d injected errors of 200 at ratio 0.3", errors);
    cr_assert_gt(differ, 0, "another seed should draw other errors or routes");
}

/* ---- parsing -------------------------------------------------------------- */

static sim_diag_t D;

static sim_cfg_t *load(const char *text)
{
    sim_diag_init(&D);
    sim_cfg_t *cfg = sim_cfg_load_string("s.yaml", text, strlen(text), &D);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&D));
    return cfg;
}

Test(llm_parse, absent_section_gives_the_defaults)
{
    sim_diag_t d;
    sim_diag_init(&d);
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&d, NULL, &s), 0);
    cr_assert_eq(s.replicas, 1);
    cr_assert_eq(s.max_num_seqs, 256);
    cr_assert_eq(s.prefill_base, MS(20));
    cr_assert_eq(s.prefill_per_token, 50 * SIM_US);
    cr_assert_eq(s.tpot, MS(10));
    cr_assert_eq(s.tpot_batch_knee, 64);
    cr_assert_eq(s.kv_cache, (int64_t)40 << 30);
    cr_assert_eq(s.kv_bytes_per_token, 512 * 1024);
    cr_assert_eq(s.queue_limit, INT64_MAX);
    cr_assert_eq(s.startup, 60 * SIM_SEC);
    cr_assert_eq(s.load_balancer, LB_LEAST_OUTSTANDING);
    cr_assert_eq(s.restart_backoff.initial, 10 * SIM_SEC);
    cr_assert_eq(s.restart_backoff.cap, 300 * SIM_SEC);
    cr_assert_eq(s.restart_backoff.reset, 600 * SIM_SEC);
    llm_spec_fini(&s);
    sim_diag_fini(&d);
}

Test(llm_parse, every_key_is_read)
{
    sim_cfg_t *cfg = load("llm:\n"
                          "  replicas: 3\n"
                          "  max_num_seqs: 128\n"
                          "  prefill_base: 5ms\n"
                          "  prefill_per_token: 20us\n"
                          "  tpot: 4ms\n"
                          "  tpot_batch_knee: 32\n"
                          "  kv_cache: 60GiB\n"
                          "  kv_bytes_per_token: 128KiB\n"
                          "  queue_limit: 1000\n"
                          "  startup: 90s\n"
                          "  load_balancer: round_robin\n"
                          "  restart_backoff: {initial: 5s, cap: 60s}\n");
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(s.replicas, 3);
    cr_assert_eq(s.max_num_seqs, 128);
    cr_assert_eq(s.prefill_base, MS(5));
    cr_assert_eq(s.prefill_per_token, 20 * SIM_US);
    cr_assert_eq(s.tpot, MS(4));
    cr_assert_eq(s.tpot_batch_knee, 32);
    cr_assert_eq(s.kv_cache, (int64_t)60 << 30);
    cr_assert_eq(s.kv_bytes_per_token, 128 * 1024);
    cr_assert_eq(s.queue_limit, 1000);
    cr_assert_eq(s.startup, 90 * SIM_SEC);
    cr_assert_eq(s.load_balancer, LB_ROUND_ROBIN);
    cr_assert_eq(s.restart_backoff.initial, 5 * SIM_SEC);
    cr_assert_eq(s.restart_backoff.cap, 60 * SIM_SEC);
    llm_spec_fini(&s);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);
}

Test(llm_parse, bad_value_is_reported_at_its_position_with_the_key_path)
{
    sim_cfg_t *cfg = load("llm:\n"
                          "  replicas: 2\n"
                          "  tpot: 10 parsecs\n");
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s), SIM_ECONFIG);
    const char *msg = sim_diag_text(&D);
    cr_assert(strstr(msg, "s.yaml:3:9: error:") && strstr(msg, "'llm.tpot'"), "got: %s", msg);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);
}

Test(llm_parse, zero_replicas_and_a_tiny_cache_are_errors)
{
    sim_cfg_t *cfg = load("llm:\n"
                          "  replicas: 0\n"
                          "  load_balancer: least_outstandng\n");
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s), SIM_ECONFIG);
    const char *msg = sim_diag_text(&D);
    cr_assert(strstr(msg, "s.yaml:2:13: error:") && strstr(msg, "'llm.replicas'"), "got: %s", msg);
    cr_assert(strstr(msg, "s.yaml:3:18: error:") && strstr(msg, "least_outstanding"), "got: %s", msg);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);

    cfg = load("llm:\n"
               "  kv_cache: 1KiB\n");
    cr_assert_eq(llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s), SIM_ECONFIG);
    msg = sim_diag_text(&D);
    cr_assert(strstr(msg, "s.yaml:2:13: error:") && strstr(msg, "smaller than one token"), "got: %s", msg);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);
}

Test(llm_parse, unknown_key_gets_did_you_mean)
{
    sim_cfg_t *cfg = load("llm:\n"
                          "  max_num_seq: 64\n");
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s), 0);
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 1);
    const char *msg = sim_diag_text(&D);
    cr_assert(strstr(msg, "s.yaml:2:3: error: unknown key 'max_num_seq' in 'llm' (did you mean 'max_num_seqs'?)"),
              "got: %s", msg);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);
}
