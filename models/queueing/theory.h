/* Queueing-theory predictions: the known answers ragsim is validated
 * against, and that `ragsim run` prints next to the simulated figures.
 *
 * Notation: lambda arrival rate, mu service rate per server (1/E[S]),
 * c servers, a = lambda/mu offered load (Erlangs), rho = a/c utilisation.
 *   Erlang B  B(c,a) by the stable recurrence B(0)=1, B(k) = a B(k-1)/(k + a B(k-1))
 *   Erlang C  C(c,a) = B / (1 - rho (1 - B))           (rho < 1)
 *   M/M/c     Wq = C(c,a) / (c mu - lambda)
 *   M/M/c/K   p_n from the birth-death balance, blocking P_K,
 *             Lq = sum (n-c) p_n, Wq = Lq / (lambda (1 - P_K))   (Little)
 *   M/G/1     Wq = lambda E[S^2] / (2 (1 - rho))        (Pollaczek-Khinchine)
 */
#ifndef MODELS_QUEUEING_THEORY_H
#define MODELS_QUEUEING_THEORY_H

#include <stdbool.h>
#include <stddef.h>

#include "models/queueing/network.h"

double theory_erlang_b(int c, double a);
double theory_erlang_c(int c, double a);           /* NAN if rho >= 1 */
double theory_mmc_wq(double lambda, double mu, int c);

typedef struct {
    double blocking;   /* P_K: probability an arrival finds the station full */
    double lq, l;      /* mean queue length, mean number in station */
    double wq, w;      /* mean wait and sojourn of admitted customers */
    double util;       /* mean busy servers / c */
} theory_mmck_t;
/* K = total capacity (c in service + K - c waiting), K >= c. */
theory_mmck_t theory_mmck(double lambda, double mu, int c, long K);

double theory_mg1_wq(double lambda, double es, double es2);   /* NAN if rho >= 1 */

typedef struct {
    const char *model;   /* "M/M/c (Erlang C)", "M/M/c/K", "M/G/1 (Pollaczek-Khinchine)", "M/D/1 (...)" */
    double lambda;       /* arrival rate at the station, 1/s */
    double wait_s;       /* mean wait of served customers, s */
    double sojourn_s;    /* mean sojourn, s */
    double util;         /* utilisation */
    double blocking;     /* probability of rejection (0 for unbounded queues) */
} theory_pred_t;

/* A prediction for station `idx` of the route's network when an exact one
 * exists: the workload is Poisson at a constant rate, every station before it
 * on the route is lossless with exponential service (so its output is Poisson,
 * Burke's theorem), the station has no queue timeout, and it is M/M/c,
 * M/M/c/K or M/G/1. Returns false otherwise. */
bool theory_predict_station(const net_spec_t *spec, size_t idx, theory_pred_t *out);

#endif
