/* Queueing formulas for the known answers (theory.h): Erlang B and C,
 * M/M/c/K, Pollaczek-Khinchine. Pure arithmetic. */
#include "models/queueing/theory.h"

#include <math.h>
#include <string.h>

double theory_erlang_b(int c, double a)
{
    double b = 1.0;
    for (int k = 1; k <= c; k++) b = a * b / ((double)k + a * b);
    return b;
}

double theory_erlang_c(int c, double a)
{
    double rho = a / c;
    if (!(rho < 1.0)) return NAN;
    double b = theory_erlang_b(c, a);
    return b / (1.0 - rho * (1.0 - b));
}

double theory_mmc_wq(double lambda, double mu, int c)
{
    double pc = theory_erlang_c(c, lambda / mu);
    return pc / (c * mu - lambda);
}

theory_mmck_t theory_mmck(double lambda, double mu, int c, long K)
{
    theory_mmck_t r;
    memset(&r, 0, sizeof r);
    /* unnormalised p_n relative to p_0, computed in log space would be
     * overkill for the K used in practice; scale as we go instead. */
    double a = lambda / mu;
    double sum = 0, term = 1, lq = 0, l = 0, busy = 0, pk = 0;
    for (long n = 0; n <= K; n++) {
        if (n > 0) term *= a / (double)(n <= c ? n : c);
        sum += term;
        l += (double)n * term;
        if (n > c) lq += (double)(n - c) * term;
        busy += (double)(n < c ? n : c) * term;
        if (n == K) pk = term;
        if (sum > 1e250) {   /* rescale to avoid overflow */
            sum *= 1e-250; term *= 1e-250; l *= 1e-250; lq *= 1e-250; busy *= 1e-250; pk *= 1e-250;
        }
    }
    r.blocking = pk / sum;
    r.l = l / sum;
    r.lq = lq / sum;
    double lam_eff = lambda * (1.0 - r.blocking);
    r.wq = lam_eff > 0 ? r.lq / lam_eff : 0;
    r.w = lam_eff > 0 ? r.l / lam_eff : 0;
    r.util = busy / sum / c;
    return r;
}

double theory_mg1_wq(double lambda, double es, double es2)
{
    double rho = lambda * es;
    if (!(rho < 1.0)) return NAN;
    return lambda * es2 / (2.0 * (1.0 - rho));
}

bool theory_predict_station(const net_spec_t *spec, size_t idx, theory_pred_t *out)
{
    double lambda = wl_constant_rate(&spec->workload);
    if (lambda <= 0 || spec->workload.process != WL_POISSON) return false;
    /* the station must be on the route, once; upstream stations lossless M/M/c */
    size_t pos = spec->nroute;
    for (size_t i = 0; i < spec->nroute; i++) {
        if (spec->route[i] == idx) {
            if (pos != spec->nroute) return false;   /* visited twice */
            pos = i;
        }
    }
    if (pos == spec->nroute) return false;
    for (size_t i = 0; i < pos; i++) {
        const stn_spec_t *u = &spec->stations[spec->route[i]];
        if (strcmp(sim_dist_name(&u->service), "exponential") != 0 || u->queue_limit != INT64_MAX ||
            u->queue_timeout > 0)
            return false;
        if (lambda * sim_dist_mean(&u->service) >= (double)u->servers) return false;
    }
    const stn_spec_t *s = &spec->stations[idx];
    if (s->queue_timeout > 0) return false;
    double es = sim_dist_mean(&s->service), var = sim_dist_variance(&s->service);
    if (!(es > 0) || !isfinite(var)) return false;
    double mu = 1.0 / es;
    int c = (int)s->servers;
    memset(out, 0, sizeof *out);
    out->lambda = lambda;
    bool expo = strcmp(sim_dist_name(&s->service), "exponential") == 0;
    if (expo && s->queue_limit != INT64_MAX) {
        if (s->queue_limit > 10000000) return false;
        theory_mmck_t r = theory_mmck(lambda, mu, c, (long)(c + s->queue_limit));
        out->model = "M/M/c/K";
        out->wait_s = r.wq;
        out->sojourn_s = r.w;
        out->util = r.util;
        out->blocking = r.blocking;
        return true;
    }
    if (s->queue_limit != INT64_MAX) return false;
    if (lambda * es >= c) return false;   /* unstable: no steady state */
    if (expo) {
        out->model = c == 1 ? "M/M/1" : "M/M/c (Erlang C)";
        out->wait_s = theory_mmc_wq(lambda, mu, c);
    } else if (c == 1) {
        bool det = strcmp(sim_dist_name(&s->service), "deterministic") == 0;
        out->model = det ? "M/D/1 (Pollaczek-Khinchine)" : "M/G/1 (Pollaczek-Khinchine)";
        out->wait_s = theory_mg1_wq(lambda, es, var + es * es);
    } else {
        return false;
    }
    out->sojourn_s = out->wait_s + es;
    out->util = lambda * es / c;
    return true;
}
