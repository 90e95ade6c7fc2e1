/* Bursty arrival processes (workload.h): the Markov-modulated Poisson
 * process, a periodic (diurnal) rate and batch arrivals: their parsing,
 * the MMPP's stationary distribution and the index of dispersion of
 * counts in closed form. Not on the hot path (the generator is in
 * workload.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>

#include "models/queueing/workload.h"
#include "sim/error.h"

#define WL_MAX_STATES 16

/* Solve A x = b (n x n, row-major, destroyed); 0 or -1 when singular. */
static int solve(double *a, double *b, double *x, size_t n)
{
    gsl_matrix_view m = gsl_matrix_view_array(a, n, n);
    gsl_vector_view bv = gsl_vector_view_array(b, n), xv = gsl_vector_view_array(x, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    if (!p) return -1;
    int sign = 0;
    int rc = gsl_linalg_LU_decomp(&m.matrix, p, &sign);
    if (rc == 0 && fabs(gsl_linalg_LU_det(&m.matrix, sign)) < 1e-300) rc = -1;
    if (rc == 0) rc = gsl_linalg_LU_solve(&m.matrix, p, &bv.vector, &xv.vector);
    gsl_permutation_free(p);
    return rc ? -1 : 0;
}

/* The generator Q of the modulating chain: Q_ij = leave_i jump_ij, Q_ii = -leave_i. */
static void generator(const wl_spec_t *s, double *q)
{
    size_t n = s->nstates;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            q[i * n + j] = i == j ? -wl_mmpp_leave(s)[i] : wl_mmpp_leave(s)[i] * wl_mmpp_jump(s)[i * n + j];
}

/* pi Q = 0, sum pi = 1: solve Q^T pi = 0 with the last equation replaced by the sum. */
static int stationary(const wl_spec_t *s, double *pi)
{
    size_t n = s->nstates;
    double q[WL_MAX_STATES * WL_MAX_STATES], a[WL_MAX_STATES * WL_MAX_STATES], b[WL_MAX_STATES] = {0};
    generator(s, q);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) a[i * n + j] = i == n - 1 ? 1 : q[j * n + i];
    b[n - 1] = 1;
    return solve(a, b, pi, n);
}

int wl_mmpp_parse(sim_diag_t *d, sim_cfg_node_t *map, wl_spec_t *spec)
{
    int errs = d->errors;
    sim_cfg_node_t *st = sim_cfg_get(map, "states");
    if (!sim_cfg_expect_seq(d, st, "states")) return SIM_ECONFIG;
    size_t n = st->n;
    if (n < 2 || n > WL_MAX_STATES) {
        sim_cfg_error(d, st, "an MMPP needs 2 to %d states, not %zu", WL_MAX_STATES, n);
        return SIM_ECONFIG;
    }
    spec->nstates = n;
    if (!(spec->mmpp = calloc(3 * n + n * n, sizeof *spec->mmpp))) return SIM_ENOMEM;
    double *rate = spec->mmpp, *leave = rate + n, *pi = leave + n, *jump = pi + n;
    for (size_t i = 0; i < n; i++) {
        sim_cfg_node_t *m = st->vals[i];
        if (!sim_cfg_expect_map(d, m, "MMPP state")) continue;
        sim_cfg_rate(d, m, "rate", SIM_CFG_REQUIRED, 0, &rate[i]);
        sim_time_t hold = 0;
        if (sim_cfg_duration(d, m, "mean_time", SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, 0, &hold) == 0 && hold > 0)
            leave[i] = 1 / sim_time_to_s(hold);
        if (rate[i] > 1e9) sim_cfg_error(d, sim_cfg_get(m, "rate"), "expected an arrival rate of at most 1e9/s");
    }
    sim_cfg_node_t *tn = sim_cfg_get(map, "transitions");
    if (!tn) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) jump[i * n + j] = i == j ? 0 : 1.0 / (double)(n - 1);
    } else if (sim_cfg_expect_seq(d, tn, "transitions")) {
        if (tn->n != n) {
            sim_cfg_error(d, tn, "'transitions' needs one row per state (%zu), got %zu", n, tn->n);
            return SIM_ECONFIG;
        }
        for (size_t i = 0; i < n; i++) {
            sim_cfg_node_t *row = tn->vals[i];
            if (!sim_cfg_expect_seq(d, row, "transitions row")) continue;
            if (row->n != n) {
                sim_cfg_error(d, row, "a row of 'transitions' needs %zu probabilities, got %zu", n, row->n);
                continue;
            }
            double sum = 0;
            for (size_t j = 0; j < n; j++) {
                double p = 0;
                if (sim_cfg_double_node(d, row->vals[j], 0, 0, 1, &p)) continue;
                if (i == j && p != 0)
                    sim_cfg_error(d, row->vals[j], "a state does not jump to itself: the diagonal of 'transitions' is 0 "
                                                  "(a longer stay is a longer 'mean_time')");
                jump[i * n + j] = p;
                sum += p;
            }
            if (fabs(sum - 1) > 1e-9) sim_cfg_error(d, row, "a row of 'transitions' sums to 1, this one to %g", sum);
        }
    }
    if (d->errors != errs) return SIM_ECONFIG;
    if (stationary(spec, pi) != 0) {
        sim_cfg_error(d, tn ? tn : st, "the states' transitions do not form one recurrent chain: some state is "
                                       "never reached again");
        return SIM_ECONFIG;
    }
    double mean = 0;
    for (size_t i = 0; i < n; i++) {
        if (pi[i] < -1e-12 || !(pi[i] < 1 + 1e-12)) {
            sim_cfg_error(d, tn ? tn : st, "the states' transitions do not form one recurrent chain");
            return SIM_ECONFIG;
        }
        if (pi[i] < 0) pi[i] = 0;
        mean += pi[i] * rate[i];
    }
    if (mean <= 0) {
        sim_cfg_error(d, st, "every state's rate is zero: no request would arrive");
        return SIM_ECONFIG;
    }
    return 0;
}

int wl_periodic_parse(sim_diag_t *d, sim_cfg_node_t *node, wl_spec_t *spec)
{
    int errs = d->errors;
    if (!sim_cfg_expect_map(d, node, "periodic")) return SIM_ECONFIG;
    spec->periodic = true;
    sim_cfg_rate(d, node, "mean", SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, 0, &spec->per_mean);
    /* a ratio: at most 100%, so the rate never goes negative */
    sim_cfg_ratio(d, node, "amplitude", SIM_CFG_REQUIRED, 0, &spec->per_amp);
    sim_cfg_duration(d, node, "period", SIM_CFG_POSITIVE, 24 * SIM_HOUR, &spec->per_period);
    sim_cfg_duration(d, node, "peak_at", 0, 0, &spec->per_peak);
    if (d->errors != errs) return SIM_ECONFIG;
    if (spec->per_mean * (1 + spec->per_amp) > 1e9) {
        sim_cfg_error(d, sim_cfg_get(node, "mean"), "the peak rate is above 1e9/s (one arrival per nanosecond)");
        return SIM_ECONFIG;
    }
    spec->per_peak %= spec->per_period;
    return 0;
}

int wl_batch_parse(sim_diag_t *d, sim_cfg_node_t *node, wl_spec_t *spec)
{
    if (!sim_cfg_expect_map(d, node, "batch")) return SIM_ECONFIG;
    sim_cfg_node_t *sz = sim_cfg_get(node, "size");
    if (!sz) {
        sim_cfg_error(d, node, "missing required key 'size' in 'batch' (requests per arrival: 4, or a distribution)");
        return SIM_ECONFIG;
    }
    int rc = sim_dist_parse(d, sz, SIM_DIST_NUMBER, &spec->batch);
    if (rc) return rc;
    double m = sim_dist_mean(&spec->batch);
    if (!(m >= 1) || !isfinite(m)) {
        sim_cfg_error(d, sz, "a batch's mean size is at least 1 request, not %g", m);
        return SIM_ECONFIG;
    }
    spec->batched = true;
    return 0;
}

double wl_batch_mean(const wl_spec_t *spec)
{
    return spec->batched ? sim_dist_mean(&spec->batch) : 1;
}

/* MMPP counts over windows of length t (Heffes and Lucantoni 1986; Fischer
 * and Meier-Hellstern 1993): with lambda the rates, L = diag(lambda),
 * lbar = pi lambda and D = (1 pi - Q)^-1 - 1 pi the deviation matrix,
 *   Var N(t) = lbar t + 2 [ t pi L D lambda - pi L D (I - e^{Qt}) D lambda ],
 * so IDC(inf) = 1 + 2 pi L D lambda / lbar. The finite-window term needs
 * e^{Qt}: computed here by uniformisation. */
static double mmpp_idc(const wl_spec_t *s, sim_time_t win)
{
    size_t n = s->nstates;
    double q[WL_MAX_STATES * WL_MAX_STATES], a[WL_MAX_STATES * WL_MAX_STATES];
    double dl[WL_MAX_STATES], lam[WL_MAX_STATES];
    const double *pi = wl_mmpp_pi(s), *rate = wl_mmpp_rate(s);
    generator(s, q);
    double lbar = 0;
    for (size_t i = 0; i < n; i++) lbar += pi[i] * rate[i];
    /* D lambda = x - (pi lambda) 1 where (1 pi - Q) x = lambda */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) a[i * n + j] = pi[j] - q[i * n + j];
    for (size_t i = 0; i < n; i++) lam[i] = rate[i];
    double x[WL_MAX_STATES];
    if (solve(a, lam, x, n)) return -1;
    for (size_t i = 0; i < n; i++) dl[i] = x[i] - lbar;
    double lim = 0;   /* pi L D lambda */
    for (size_t i = 0; i < n; i++) lim += pi[i] * rate[i] * dl[i];
    if (win == SIM_TIME_MAX) return 1 + 2 * lim / lbar;
    double t = sim_time_to_s(win);
    /* y = (I - e^{Qt}) D lambda; e^{Qt} v by uniformisation: sum Poisson(gt) weights of P^k v, P = I + Q/g */
    double g = 0;
    for (size_t i = 0; i < n; i++) if (-q[i * n + i] > g) g = -q[i * n + i];
    double v[WL_MAX_STATES], e[WL_MAX_STATES] = {0}, tmp[WL_MAX_STATES];
    memcpy(v, dl, n * sizeof *v);
    double gt = g * t;
    if (gt < 700) {   /* beyond, e^{Qt} D lambda is below 1e-300 of it: zero */
        double w = exp(-gt);
        size_t kmax = (size_t)(gt + 12 * sqrt(gt + 1) + 50);
        for (size_t k = 0; k <= kmax; k++) {
            for (size_t i = 0; i < n; i++) e[i] += w * v[i];
            for (size_t i = 0; i < n; i++) {
                tmp[i] = v[i];
                for (size_t j = 0; j < n; j++) tmp[i] += q[i * n + j] / g * v[j];
            }
            memcpy(v, tmp, n * sizeof *v);
            w *= gt / (double)(k + 1);
        }
    }
    double y[WL_MAX_STATES];
    for (size_t i = 0; i < n; i++) y[i] = dl[i] - e[i];
    /* D y: solve (1 pi - Q) z = y, D y = z - (pi y) 1 */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) a[i * n + j] = pi[j] - q[i * n + j];
    double z[WL_MAX_STATES], yy[WL_MAX_STATES];
    memcpy(yy, y, n * sizeof *y);
    if (solve(a, yy, z, n)) return -1;
    double piy = 0;
    for (size_t i = 0; i < n; i++) piy += pi[i] * y[i];
    double corr = 0;   /* pi L D y */
    for (size_t i = 0; i < n; i++) corr += pi[i] * rate[i] * (z[i] - piy);
    return 1 + 2 * (lim - corr / t) / lbar;
}

double wl_idc(const wl_spec_t *spec, sim_time_t t)
{
    double b = 1;
    if (spec->batched) {
        double m = sim_dist_mean(&spec->batch), v = sim_dist_variance(&spec->batch);
        b = (v + m * m) / m;   /* E[K^2] / E[K] */
    }
    if (spec->process == WL_MMPP) {
        double i = mmpp_idc(spec, t);
        /* batches on an MMPP: Var = E[K]^2 Var(N) + E[N] Var(K) */
        if (i < 0) return -1;
        if (!spec->batched) return i;
        double m = sim_dist_mean(&spec->batch), v = sim_dist_variance(&spec->batch);
        return (m * m * i + v) / m;
    }
    if (spec->process != WL_POISSON) return -1;
    /* a periodic rate: Poisson counts over whole periods */
    if (spec->periodic) return t != SIM_TIME_MAX && t % spec->per_period == 0 ? b : -1;
    for (size_t i = 0; i < spec->nsegs; i++)
        if (spec->segs[i].r0 != spec->segs[0].r0 || spec->segs[i].r1 != spec->segs[0].r0) return -1;
    return b;
}
