/* Trace replay: every row of the shipped Azure traces arrives at its time
 * with its tokens; scaling and looping; bad rows name FILE:LINE:COL. The
 * expected values come from an independent read of the file (sscanf). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/queueing/workload.h"
#include "sim/error.h"
#include "testutil.h"

typedef struct {
    sim_time_t *t;
    int32_t *p, *o;
    size_t n, cap;
    const wl_gen_t *g;
} rec_t;

static void record(sim_t *sim, void *ctx)
{
    rec_t *r = ctx;
    const wl_trace_t *tr = r->g->spec->trace;
    size_t row = wl_gen_row(r->g);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4096;
        r->t = realloc(r->t, r->cap * sizeof *r->t);
        r->p = realloc(r->p, r->cap * sizeof *r->p);
        r->o = realloc(r->o, r->cap * sizeof *r->o);
        cr_assert(r->t && r->p && r->o);
    }
    r->t[r->n] = sim_now(sim);
    r->p[r->n] = tr->prompt[row];
    r->o[r->n] = tr->output[row];
    r->n++;
}

/* Parse `workload:` from YAML text as if from a file in the source tree's scenarios/. */
static int parse(const char *yaml, wl_spec_t *w, sim_diag_t *d)
{
    char name[4096];
    snprintf(name, sizeof name, "%s", tu_src("scenarios/t.yaml"));
    sim_cfg_t *cfg = sim_cfg_load_string(name, yaml, strlen(yaml), d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(d));
    int rc = wl_spec_parse(d, sim_cfg_get(sim_cfg_root(cfg), "workload"), w);
    sim_cfg_destroy(cfg);
    return rc;
}

static void replay(const wl_spec_t *w, sim_time_t until, rec_t *r)
{
    memset(r, 0, sizeof *r);
    sim_t *sim = tu_sim(3);
    wl_gen_t g;
    r->g = &g;
    cr_assert_eq(wl_gen_start(&g, sim, w, "workload/arrivals", record, r), 0);
    sim_run(sim, until);
    sim_destroy(sim);
}

/* The file, read independently. */
typedef struct {
    double t[40000];
    int p[40000], o[40000];
    size_t n;
    double psum, osum;
} file_t;

static file_t *read_trace(const char *rel)
{
    static file_t f;
    memset(&f, 0, sizeof f);
    FILE *fp = fopen(tu_src(rel), "r");
    cr_assert_not_null(fp);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, fp));   /* header */
    while (fgets(line, sizeof line, fp) && f.n < 40000) {
        cr_assert_eq(sscanf(line, "%lf,%d,%d", &f.t[f.n], &f.p[f.n], &f.o[f.n]), 3, "%s", line);
        f.psum += f.p[f.n];
        f.osum += f.o[f.n];
        f.n++;
    }
    fclose(fp);
    return &f;
}

static void check_exact(const char *file, double scale, const char *scale_yaml)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "workload:\n  trace: {file: ../%s%s}\n", file, scale_yaml);
    sim_diag_t d;
    sim_diag_init(&d);
    wl_spec_t w;
    cr_assert_eq(parse(yaml, &w, &d), 0, "%s", sim_diag_text(&d));
    file_t *f = read_trace(file);
    rec_t r;
    replay(&w, 10 * SIM_HOUR, &r);
    cr_assert_eq(r.n, f->n, "%zu arrivals, the file has %zu rows", r.n, f->n);
    double ps = 0, os = 0;
    for (size_t i = 0; i < r.n; i++) {
        sim_time_t want = (sim_time_t)llround(f->t[i] * 1e9 * scale);
        cr_assert_eq(r.t[i], want, "row %zu: arrived at %lld ns, the file says %lld", i + 2, (long long)r.t[i],
                     (long long)want);
        cr_assert_eq(r.p[i], f->p[i]);
        cr_assert_eq(r.o[i], f->o[i]);
        ps += r.p[i];
        os += r.o[i];
    }
    cr_assert_eq(ps, f->psum);
    cr_assert_eq(os, f->osum);
    cr_assert_eq(w.trace->prompt_sum, f->psum);
    wl_spec_fini(&w);
    sim_diag_fini(&d);
    free(r.t);
    free(r.p);
    free(r.o);
}

Test(workload_trace, azure_conversation_replayed_exactly)
{
    check_exact("data/traces/azure-llm-2023-conversation.csv", 1, "");
}

Test(workload_trace, azure_code_replayed_exactly)
{
    check_exact("data/traces/azure-llm-2023-code.csv", 1, "");
}

Test(workload_trace, rate_scale_2_halves_every_time)
{
    check_exact("data/traces/azure-llm-2023-code.csv", 0.5, ", rate_scale: 2");
    check_exact("data/traces/azure-llm-2023-code.csv", 2, ", time_scale: 2");
}

static const char *write_csv(const char *stem, const char *text)
{
    static char path[4096];
    char *p = tu_tmp_path(stem, "csv");
    snprintf(path, sizeof path, "%s", p);
    free(p);
    cr_assert_eq(tu_write_file(path, text), 0);
    return path;
}

Test(workload_trace, loop_repeats_with_the_period)
{
    const char *csv = write_csv("loop", "time,prompt_tokens,output_tokens\n1,10,1\n2.5,20,2\n4,30,3\n");
    char yaml[4200];
    snprintf(yaml, sizeof yaml, "workload:\n  trace: {file: %s, loop: true, period: 10s}\n", csv);
    sim_diag_t d;
    sim_diag_init(&d);
    wl_spec_t w;
    cr_assert_eq(parse(yaml, &w, &d), 0, "%s", sim_diag_text(&d));
    rec_t r;
    replay(&w, 30 * SIM_SEC, &r);
    /* 1, 2.5, 4, 11, 12.5, 14, 21, 22.5, 24 */
    cr_assert_eq(r.n, 9);
    static const double want[9] = {1, 2.5, 4, 11, 12.5, 14, 21, 22.5, 24};
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(r.t[i], (sim_time_t)(want[i] * 1e9), "arrival %d at %lld", i, (long long)r.t[i]);
        cr_assert_eq(r.p[i], 10 * (i % 3 + 1));
    }
    cr_assert_float_eq(wl_expected_arrivals(&w, 0, 30 * SIM_SEC), 9, 1e-12);
    wl_spec_fini(&w);
    /* the default period: the last time plus the mean gap (4 + 1.5) */
    snprintf(yaml, sizeof yaml, "workload:\n  trace: {file: %s, loop: true, origin: first_row, time_unit: ms}\n", csv);
    cr_assert_eq(parse(yaml, &w, &d), 0, "%s", sim_diag_text(&d));
    cr_assert_eq(w.trace->t[0], 0);
    cr_assert_eq(w.trace->t[2], 3 * SIM_MS);
    cr_assert_eq(w.trace->period, 3 * SIM_MS + 1500 * SIM_US);
    wl_spec_fini(&w);
    sim_diag_fini(&d);
    free(r.t);
    free(r.p);
    free(r.o);
}

/* A bad trace: the error names the CSV's FILE:LINE:COL. */
static void expect_error(const char *csv_text, const char *extra, int line, int col, const char *msg)
{
    const char *csv = write_csv("bad", csv_text);
    char yaml[4400];
    snprintf(yaml, sizeof yaml, "workload:\n  trace: {file: %s%s}\n", csv, extra);
    sim_diag_t d;
    sim_diag_init(&d);
    wl_spec_t w;
    cr_assert_neq(parse(yaml, &w, &d), 0, "accepted:\n%s", csv_text);
    char want[4400];
    if (line > 0) snprintf(want, sizeof want, "%s:%d:%d: error: ", csv, line, col);
    else snprintf(want, sizeof want, "%s", line < 0 ? "t.yaml:" : csv);
    cr_assert(strstr(sim_diag_text(&d), want), "expected '%s' in:\n%s", want, sim_diag_text(&d));
    cr_assert(strstr(sim_diag_text(&d), msg), "expected '%s' in:\n%s", msg, sim_diag_text(&d));
    sim_diag_fini(&d);
}

Test(workload_trace, bad_rows_name_file_line_col)
{
    expect_error("arrived_at,num_prefill_tokens\n0.5,10\nx,20\n", "", 3, 1, "expected an arrival time");
    expect_error("arrived_at,num_prefill_tokens\n0.5,10\n1,2.5\n", "", 3, 3, "expected a whole number of tokens");
    expect_error("arrived_at,num_prefill_tokens\n0.5,10\n1,-3\n", "", 3, 3, "expected a whole number of tokens");
    expect_error("arrived_at,num_prefill_tokens\n2,10\n1,20\n", "", 3, 1, "must not decrease");
    expect_error("arrived_at,num_prefill_tokens\n2,10\n3\n", "", 3, 1, "expected 2 fields");
    expect_error("arrived_at,num_prefill_tokens\n2,\"10\n", "", 2, 3, "no closing quote");
    expect_error("arrived_at,arrived_at\n2,10\n", "", 1, 12, "appears twice");
    expect_error("arrived_at\n-1\n", "", 2, 1, "negative");
    expect_error("when,tokens\n1,2\n", "", 1, 1, "no arrival time column");
    expect_error("arrived_at\n", "", 0, 0, "no rows");
    expect_error("", "", 0, 0, "empty file");
    expect_error("arrived_at\n1\n", ", columns: {prompt_tokens: toks}", -1, 0, "column 'toks' is not in");
    expect_error("arrived_at\n1\n", ", rate_scale: 2, time_scale: 2", -1, 0, "not both");
    expect_error("arrived_at\n1\n5\n", ", loop: true, period: 2s", -1, 0, "shorter than the trace");
}

Test(workload_trace, a_missing_file_is_reported)
{
    sim_diag_t d;
    sim_diag_init(&d);
    wl_spec_t w;
    /* a FIFO is refused at once, not waited on */
    char *fifo = tu_tmp_path("fifo", "csv"), yaml[4200];
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    snprintf(yaml, sizeof yaml, "workload:\n  trace: %s\n", fifo);
    cr_assert_neq(parse(yaml, &w, &d), 0);
    cr_assert(strstr(sim_diag_text(&d), "not a regular file"), "%s", sim_diag_text(&d));
    unlink(fifo);
    free(fifo);
    sim_diag_fini(&d);
    sim_diag_init(&d);
    cr_assert_neq(parse("workload:\n  trace: no-such-trace.csv\n", &w, &d), 0);
    cr_assert(strstr(sim_diag_text(&d), "scenarios/no-such-trace.csv: error: cannot open"), "%s", sim_diag_text(&d));
    sim_diag_fini(&d);
    sim_diag_init(&d);
    cr_assert_neq(parse("workload:\n  trace: x.csv\n  rate: 5/s\n", &w, &d), 0);
    cr_assert(strstr(sim_diag_text(&d), "not both 'rate' and 'trace'"), "%s", sim_diag_text(&d));
    sim_diag_fini(&d);
}

Test(workload_trace, quoted_fields_classes_and_keys)
{
    const char *csv = write_csv("q", "\"time\",class,query_key\r\n1,\"chat, eu\",42\r\n2,batch,abc\r\n\r\n3,\"chat, eu\",42\r\n");
    char yaml[4200];
    snprintf(yaml, sizeof yaml, "workload:\n  trace: {file: %s}\n", csv);
    sim_diag_t d;
    sim_diag_init(&d);
    wl_spec_t w;
    cr_assert_eq(parse(yaml, &w, &d), 0, "%s", sim_diag_text(&d));
    cr_assert_eq(w.trace->n, 3);
    cr_assert_eq(w.trace->nclasses, 2);
    cr_assert_str_eq(w.trace->class_names[0], "chat, eu");
    cr_assert_str_eq(w.trace->class_names[1], "batch");
    cr_assert_eq(w.trace->cls[2], 0);
    cr_assert_eq(w.trace->key[0], 42);
    cr_assert_eq(w.trace->key[2], 42);
    cr_assert_neq(w.trace->key[1], 0);
    cr_assert_null(w.trace->prompt);
    wl_spec_fini(&w);
    sim_diag_fini(&d);
}
