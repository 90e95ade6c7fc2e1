/* HDF5 helpers for the tests that read traces written by the binary. */
#ifndef RAGSIM_H5UTIL_H
#define RAGSIM_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

typedef struct {
    double *v;   /* owned */
    size_t n;
} series_t;

/* The time series `name` of run group `run` ("/runs/default/rep000"): a row
 * of timeseries/values, found by name in timeseries/series ("t": the sample
 * times). Fails the test if missing. */
series_t series(hid_t f, const char *run, const char *name);

/* The incident scenarios' 10-s samples: full successes / all ended
 * requests over samples [t0, t1) s of `run` (from the per-outcome rates;
 * fails the test if nothing ended), and the mean of series `name` over
 * [t0, t1) s. */
double success_between(hid_t f, const char *run, double t0, double t1);
double mean_between(hid_t f, const char *run, const char *name, double t0, double t1);

/* The table `group`/series of a set of time series (group: a run's
 * ".../timeseries"), row by row; *out owned by the caller. */
typedef struct {
    char name[128], unit[32], description[192];
} series_info_t;
size_t series_table(hid_t f, const char *group, series_info_t **out);

/* The row of series `name` in `run`'s timeseries/values, or -1; its unit
 * copied into `unit` (if non-NULL). */
long series_row(hid_t f, const char *run, const char *name, char *unit, size_t unitlen);

typedef struct {
    double time;
    char kind[32], source[48];
    double value;
} evrow_t;

/* The events table of a run; *out owned by the caller. */
size_t events(hid_t f, const char *run, evrow_t **out);

/* Run `ragsim run SCENARIO -q --reps 1 -o TMP [--set S]...` (sets: NULL-terminated list, may be NULL)
 * and open the trace read-only; *out receives the path (caller frees and unlinks). */
hid_t run_scenario(const char *scen, const char *variant, char **out, const char *const *sets);

/* Run `ragsim compare SCENARIO -q --reps N -o TMP [--set S]...` and open the trace. */
hid_t run_compare(const char *scen, int reps, char **out, const char *const *sets);
/* The same with `--variants VARIANTS` (comma-separated; NULL: all). */
hid_t run_compare_variants(const char *scen, int reps, const char *variants, char **out, const char *const *sets);

/* A row of /comparison (the columns the tests read). */
typedef struct {
    char variant[64], metric[64];
    double mean, diff, diff_lo, diff_hi;
    long long n_paired, significant, verdict;
} cmprow_t;

/* The row (variant, metric) of /comparison, copied; fails the test if absent. */
cmprow_t comparison_row(hid_t f, const char *variant, const char *metric);

/* A scalar from /summary (row, column), as double. */
double summary_value(hid_t f, size_t row, const char *col);

#endif
