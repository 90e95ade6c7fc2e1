/* The engine's time series and their sink: samples handed over block by
 * block (the buffer never grows), or kept whole and handed over at the
 * end; a failing sink stops the run. Expected values are hand-computed:
 * a sampler writes the sample's number and ten times it. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>

#include "sim/error.h"
#include "sim/sim.h"

typedef struct {
    int a, b;        /* columns */
    int n;           /* samples written */
} counter_t;

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    counter_t *c = ctx;
    cr_assert_eq(dt, SIM_SEC);
    c->n++;
    sim_series_set(sim, c->a, c->n);
    sim_series_set(sim, c->b, 10.0 * c->n);
}

#define MAX_CALLS 16
typedef struct {
    size_t first[MAX_CALLS], rows[MAX_CALLS];
    double t[MAX_CALLS][16], a[MAX_CALLS][16], b[MAX_CALLS][16];
    size_t buffered_cap[MAX_CALLS];
    int calls;
    int fail_at;     /* return SIM_EIO on this call (1-based); 0: never */
} sink_log_t;

static int sink(void *ctx, const sim_t *sim, size_t first, size_t rows)
{
    sink_log_t *l = ctx;
    cr_assert_lt(l->calls, MAX_CALLS);
    int k = l->calls++;
    l->first[k] = first;
    l->rows[k] = rows;
    l->buffered_cap[k] = sim->samples_cap;
    for (size_t i = 0; i < rows && i < 16; i++) {
        l->t[k][i] = sim_series_times(sim)[i];
        l->a[k][i] = sim_series_data(sim, 0)[i];
        l->b[k][i] = sim_series_data(sim, 1)[i];
    }
    return l->calls == l->fail_at ? SIM_EIO : 0;
}

static sim_t *make(counter_t *c, sim_time_t horizon)
{
    sim_config_t cfg = {.master_seed = 1, .sample_interval = SIM_SEC, .horizon = horizon};
    sim_t *sim = sim_create(&cfg);
    cr_assert_not_null(sim);
    c->a = sim_series_add(sim, "a", "1", "sample number");
    c->b = sim_series_add(sim, "b", "1", "ten times a");
    cr_assert_eq(c->a, 0);
    cr_assert_eq(c->b, 1);
    cr_assert_eq(sim_add_sampler(sim, sampler, c), 0);
    return sim;
}

/* samples at 1, 2, ... 10 s; call k holds samples first+1 .. first+rows */
static void assert_call(const sink_log_t *l, int k, size_t first, size_t rows)
{
    cr_assert_eq(l->first[k], first, "call %d: first %zu", k, l->first[k]);
    cr_assert_eq(l->rows[k], rows, "call %d: rows %zu", k, l->rows[k]);
    for (size_t i = 0; i < rows; i++) {
        double n = (double)(first + i + 1);
        cr_assert_eq(l->t[k][i], n, "call %d row %zu: t %g", k, i, l->t[k][i]);
        cr_assert_eq(l->a[k][i], n);
        cr_assert_eq(l->b[k][i], 10 * n);
    }
}

Test(series, block_sink_takes_full_blocks_and_the_buffer_stays_at_the_block)
{
    counter_t c = {0};
    sim_t *sim = make(&c, 3600 * SIM_SEC);   /* sized for an hour ... */
    sink_log_t l = {0};
    cr_assert_eq(sim_set_series_sink(sim, sink, &l, 4), 0);
    cr_assert_eq(sim->samples_cap, 4, "... but holds one block of 4");
    cr_assert_eq(sim_run(sim, 10 * SIM_SEC + SIM_SEC / 2), SIM_RUN_TIME);
    cr_assert_eq(sim_series_samples(sim), 10);
    /* blocks [0,4) and [4,8) went while the run went, each before the next sample */
    cr_assert_eq(l.calls, 2);
    assert_call(&l, 0, 0, 4);
    assert_call(&l, 1, 4, 4);
    cr_assert_eq(l.buffered_cap[1], 4);
    cr_assert_eq(sim_series_first(sim), 8);
    cr_assert_eq(sim_series_data(sim, 0)[1], 10.0, "the buffer holds samples 9 and 10");
    cr_assert_eq(sim_series_flush(sim), 0);
    cr_assert_eq(l.calls, 3);
    assert_call(&l, 2, 8, 2);
    cr_assert_eq(sim_series_flush(sim), 0);
    cr_assert_eq(l.calls, 3, "nothing new: no call");
    cr_assert_eq(sim->samples_cap, 4);
    sim_destroy(sim);
}

Test(series, keep_all_sink_is_called_once_at_the_end_and_the_samples_stay)
{
    counter_t c = {0};
    sim_t *sim = make(&c, 0);
    sink_log_t l = {0};
    cr_assert_eq(sim_set_series_sink(sim, sink, &l, 0), 0);
    cr_assert_eq(sim_run(sim, 10 * SIM_SEC + SIM_SEC / 2), SIM_RUN_TIME);
    cr_assert_eq(l.calls, 0);
    cr_assert_eq(sim_series_flush(sim), 0);
    cr_assert_eq(l.calls, 1);
    assert_call(&l, 0, 0, 10);
    cr_assert_eq(sim_series_first(sim), 0);
    for (size_t i = 0; i < 10; i++) cr_assert_eq(sim_series_data(sim, 1)[i], 10.0 * (double)(i + 1));
    /* more samples: the second flush hands over only the new ones */
    cr_assert_eq(sim_run(sim, 12 * SIM_SEC + SIM_SEC / 2), SIM_RUN_TIME);
    cr_assert_eq(sim_series_flush(sim), 0);
    cr_assert_eq(l.calls, 2);
    assert_call(&l, 1, 10, 2);
    cr_assert_eq(sim_series_data(sim, 0)[0], 1.0, "the view is restored after the call");
    cr_assert_eq(sim_series_samples(sim), 12);
    sim_destroy(sim);
}

Test(series, without_a_sink_every_sample_is_kept)
{
    counter_t c = {0};
    sim_t *sim = make(&c, 0);
    cr_assert_eq(sim_run(sim, 300 * SIM_SEC + SIM_SEC / 2), SIM_RUN_TIME);
    cr_assert_eq(sim_series_samples(sim), 300);
    cr_assert_eq(sim_series_first(sim), 0);
    for (size_t i = 0; i < 300; i++) cr_assert_eq(sim_series_data(sim, 0)[i], (double)(i + 1));
    cr_assert_eq(sim_series_flush(sim), 0, "no sink: nothing to do");
    sim_destroy(sim);
}

Test(series, a_failing_sink_stops_the_run_with_its_error)
{
    counter_t c = {0};
    sim_t *sim = make(&c, 0);
    sink_log_t l = {.fail_at = 2};
    cr_assert_eq(sim_set_series_sink(sim, sink, &l, 3), 0);
    cr_assert_eq(sim_run(sim, 100 * SIM_SEC), SIM_RUN_ERROR);
    cr_assert_eq(sim_error(sim), SIM_EIO);
    /* the second block went when the 7th sample was due: the run stopped there */
    cr_assert_eq(l.calls, 2);
    cr_assert_eq(sim_now(sim), 7 * SIM_SEC);
    cr_assert_eq(c.n, 6, "the 7th sample was not taken");
    sim_destroy(sim);
}

Test(series, the_sink_is_set_before_sampling_starts)
{
    counter_t c = {0};
    sim_t *sim = make(&c, 0);
    sink_log_t l = {0};
    cr_assert_eq(sim_run(sim, 2 * SIM_SEC), SIM_RUN_TIME);
    cr_assert_eq(sim_set_series_sink(sim, sink, &l, 4), SIM_ESTATE);
    sim_destroy(sim);
}

Test(series, a_column_added_after_the_sink_gets_a_block_sized_buffer)
{
    sim_config_t cfg = {.master_seed = 1, .sample_interval = SIM_SEC, .horizon = 3600 * SIM_SEC};
    sim_t *sim = sim_create(&cfg);
    sink_log_t l = {0};
    cr_assert_eq(sim_set_series_sink(sim, sink, &l, 4), 0);
    counter_t c = {0};
    c.a = sim_series_add(sim, "a", "1", NULL);
    c.b = sim_series_add(sim, "b", "1", NULL);
    cr_assert_eq(sim_add_sampler(sim, sampler, &c), 0);
    cr_assert_eq(sim_run(sim, 9 * SIM_SEC + 1), SIM_RUN_TIME);
    cr_assert_eq(sim_series_flush(sim), 0);
    cr_assert_eq(l.calls, 3);
    assert_call(&l, 0, 0, 4);
    assert_call(&l, 1, 4, 4);
    assert_call(&l, 2, 8, 1);
    cr_assert_eq(sim_memory_bytes(sim) >= 3 * 4 * sizeof(double), true);
    cr_assert_lt(sim_memory_bytes(sim), 3 * 64 * sizeof(double) + 4096, "series memory is one block");
    sim_destroy(sim);
}

/* Two series of one name would be two rows of the trace's values with one
 * name, and a reader would see only one of them: a model's mistake, caught
 * where it is made. */
Test(series, a_second_series_of_a_name_aborts, .signal = SIGABRT)
{
    sim_config_t cfg = {.master_seed = 1, .sample_interval = SIM_SEC, .horizon = 10 * SIM_SEC};
    sim_t *sim = sim_create(&cfg);
    cr_assert_eq(sim_series_add(sim, "goroutines", "1", NULL), 0);
    cr_assert_eq(sim_series_add(sim, "goroutines{replica=0}", "1", NULL), 1, "another name");
    sim_series_add(sim, "goroutines", "1", NULL);
    cr_assert_fail("a second 'goroutines' was accepted");
}
