/* `ragsim validate`'s capacity check: a 50 requests/s scenario at the
 * documented defaults (one A100 replica of Llama-3-8B) is caught before the
 * run, by name, with the offered load computed by hand; the shipped healthy
 * baseline draws no warning; a ramp's peak and the moment it crosses the
 * LLM's capacity are printed at the times the profile gives. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ragsim(...) tu_run((const char *const[]){RAGSIM_BINARY, __VA_ARGS__, NULL})

static char *scenario(const char *stem, const char *yaml)
{
    char *p = tu_tmp_path(stem, ".yaml");
    cr_assert_eq(tu_write_file(p, yaml), 0);
    return p;
}

Test(validate_capacity, defaults_at_50_per_s_warn_about_the_llm)
{
    char *p = scenario("cap-defaults50", "name: defaults-50\nduration: 5m\nworkload:\n  rate: 50/s\n"
                                         "pipeline:\n  steps: [embed, retrieve, generate]\n");
    tu_run_t r = ragsim("validate", p);
    cr_assert_eq(r.status, 0, "a saturating scenario is still valid: %s", r.err);
    /* the prompt: query 40 tokens (default mean) + top_k 5 x 256-token chunks = 1320;
     * 50/s x 1320 = 66,000 prompt tokens/s */
    cr_assert(strstr(r.out, "  llm "), "%s", r.out);
    const char *w = strstr(r.out, "warning: llm: offered 66,000 prompt tokens/s at 0:00 and on (a constant rate) "
                                  "against a capacity of ");
    cr_assert(w, "%s", r.out);
    cr_assert(strstr(w, ": it will queue without bound"), "%s", w);
    /* the capacity is `ragsim llm capacity`'s for the same scenario (one replica) */
    const char *c = strstr(w, "capacity of ") + strlen("capacity of ");
    double cap = 0;
    char digits[32] = {0};
    for (int i = 0, o = 0; c[i] && c[i] != ':' && o < 31; i++)
        if (c[i] != ',') digits[o++] = c[i];
    cap = atof(digits);
    tu_run_t q = ragsim("llm", "capacity", p);
    const char *qc = strstr(q.out, "capacity per replica: ");
    cr_assert(qc, "%s", q.out);
    double req, tok;
    cr_assert_eq(sscanf(qc, "capacity per replica: %lf requests/s = %lf prompt tokens/s", &req, &tok), 2, "%s", qc);
    cr_assert(cap >= tok - 1 && cap <= tok + 1, "validate %g, llm capacity %g prompt tokens/s", cap, tok);
    cr_assert_eq(q.status, 1, "llm capacity: the offered load exceeds it");
    tu_run_free(&q);
    /* no other component saturates */
    cr_assert_null(strstr(r.out, "warning: gateway"), "%s", r.out);
    cr_assert_null(strstr(r.out, "warning: vectordb"), "%s", r.out);
    cr_assert_null(strstr(r.out, "warning: embedder"), "%s", r.out);
    /* every component has its row */
    cr_assert(strstr(r.out, "  gateway cpu "), "%s", r.out);
    cr_assert(strstr(r.out, "  embedder "), "%s", r.out);
    cr_assert(strstr(r.out, "  vectordb "), "%s", r.out);
    tu_run_free(&r);
    free(p);
}

Test(validate_capacity, the_baseline_fits)
{
    tu_run_t r = ragsim("validate", tu_src("scenarios/rag-baseline.yaml"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "capacity at the workload's rate, a constant 50 requests/s"), "%s", r.out);
    cr_assert_null(strstr(r.out, "warning:"), "%s", r.out);
    /* its own comment: the LLM at ~58% of four H100 replicas */
    const char *l = strstr(r.out, "  llm ");
    cr_assert(l);
    int util = 0;
    cr_assert_eq(sscanf(l, "  llm %*s %*s %d%%", &util), 1, "%s", l);
    cr_assert(util >= 50 && util <= 65, "llm utilisation %d%%", util);
    /* one replica is not enough */
    tu_run_free(&r);
    r = ragsim("validate", tu_src("scenarios/rag-baseline.yaml"), "--set", "llm.replicas=1");
    cr_assert(strstr(r.out, "warning: llm: offered "), "%s", r.out);
    tu_run_free(&r);
}

Test(validate_capacity, a_ramp_saturates_at_the_time_it_crosses)
{
    char *p = scenario("cap-ramp", "name: ramp\nduration: 20m\nworkload:\n  profile:\n"
                                   "    - {for: 10m, rate: 10/s}\n    - {for: 150s, from: 10/s, to: 40/s}\n"
                                   "    - {rate: 20/s}\npipeline:\n  steps: [embed, retrieve, generate]\n"
                                   "llm: {replicas: 4}\n");
    tu_run_t r = ragsim("validate", p);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "capacity at the workload's peak, 40 requests/s at 12:30"), "%s", r.out);
    /* the LLM sustains C requests/s (printed); the ramp 10 -> 40/s over
     * 10:00..12:30 reaches C at 600 + (C - 10) / 30 x 150 s */
    const char *l = strstr(r.out, "(40 requests/s against ");
    cr_assert(l, "%s", r.out);
    double c = 0;
    cr_assert_eq(sscanf(l, "(40 requests/s against %lf;", &c), 1);
    cr_assert(c > 10 && c < 40, "capacity %g", c);
    long t = (long)(600 + (c - 10) / 30 * 150);
    char want[64];
    /* the printed capacity has three digits: allow the second either side */
    int found = 0;
    for (long dt = -2; dt <= 2; dt++) {
        snprintf(want, sizeof want, "(saturated from %ld:%02ld)", (t + dt) / 60, (t + dt) % 60);
        found |= strstr(r.out, want) != NULL;
    }
    cr_assert(found, "want about %ld:%02ld in: %s", t / 60, t % 60, r.out);
    cr_assert(strstr(r.out, "warning: llm: offered 52,800 prompt tokens/s at 12:30 against a capacity of "), "%s",
              r.out);
    tu_run_free(&r);
    free(p);
}
