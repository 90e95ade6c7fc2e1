/* Parsing of values with units, as written in scenarios and on the command line.
 *
 *   durations  250us 20ms 3s 5m 1h 1.5s 2d (ns, us, µs, ms, s, m, min, h, d)
 *   sizes      512B 4KiB 1.5MiB 4GiB 1TiB (binary) and 1kB 1MB 1GB 1TB (decimal)
 *   rates      800/s 1.2k/s 3M/h 50/min 10/ms (events per second after parsing)
 *   ratios     0.35 or 35%  (a fraction in [0, 1])
 *   compute    312TFLOP/s 1.5PFLOP/s (FLOP/s with an SI prefix k, M, G, T, P, E)
 *   bandwidth  2039GB/s 2.039TB/s 600GiB/s (a size unit per second)
 *
 * Numbers are decimal with optional sign, fraction and exponent ("1e3ms",
 * ".5s"); k and M multiply a rate's count. One optional space may separate
 * the number from its unit ("20 ms", "35 %"), no other spaces. Unit names are
 * exactly those listed (case-sensitive; "sec", "KB", "Gi" are errors); both
 * U+00B5 and U+03BC are accepted for micro. A bare number where a unit is
 * expected is an error, except a bare zero ("0") for durations, sizes and
 * rates. NaN, infinities, negative values and values that overflow are errors.
 * Durations and sizes are exact (decimal arithmetic): durations are rounded
 * to the nearest ns (half away from zero), sizes must be a whole number of
 * bytes (1.5B is an error); rates, ratios, compute rates and
 * bandwidths are correctly rounded doubles. On error the functions return SIM_ERANGE (negative, too large)
 * or SIM_EINVAL (anything else) and set *why (if why is not NULL) to a static
 * phrase starting with "expected ...", for use in a FILE:LINE:COL message;
 * *out is not written. */
#ifndef SIM_UNITS_H
#define SIM_UNITS_H

#include <stdint.h>
#include "time.h"

/* Duration -> nanoseconds (rounded to the nearest ns), 0 <= value <= 2^62 ns. */
int sim_parse_duration(const char *s, sim_time_t *out, const char **why);

/* Size -> bytes, 0 <= value <= 2^62, exact: a value that is not a whole
 * number of bytes (1.5B, 0.4B, 1.0001KiB) is an error, not rounded. */
int sim_parse_size(const char *s, int64_t *out, const char **why);

/* Rate -> events per second, finite and >= 0. */
int sim_parse_rate(const char *s, double *per_second, const char **why);

/* Compute rate -> operations per second, finite and >= 0: "312TFLOP/s" ->
 * 3.12e14. Units FLOP/s, kFLOP/s, MFLOP/s, GFLOP/s, TFLOP/s, PFLOP/s, EFLOP/s
 * (decimal prefixes). */
int sim_parse_flops(const char *s, double *per_second, const char **why);

/* Bandwidth -> bytes per second, finite and >= 0: "2039GB/s" -> 2.039e12,
 * "600GiB/s" -> 600 x 2^30. Units B/s, kB/s, MB/s, GB/s, TB/s (decimal) and
 * KiB/s, MiB/s, GiB/s, TiB/s (binary). */
int sim_parse_bandwidth(const char *s, double *bytes_per_second, const char **why);

/* Ratio -> fraction in [0, 1]; "35%" -> 0.35. */
int sim_parse_ratio(const char *s, double *out, const char **why);

/* Plain finite number (no unit); rejects NaN, inf, trailing junk. */
int sim_parse_double(const char *s, double *out, const char **why);

/* Integer in [INT64_MIN, INT64_MAX]; accepts 1e6 style only if exact. */
int sim_parse_int(const char *s, int64_t *out, const char **why);

/* Format helpers for output: the largest unit in which the value is >= 1
 * (ns us ms s min h d; B KiB MiB GiB TiB PiB EiB), three significant
 * digits: "1.25 s", "20.0 ms", "850 us", "3.00 GiB"; whole base units print
 * without decimals ("512 B", "7 ns"); zero is "0 s" and "0 B".
 * Write at most n bytes (NUL included). */
void sim_format_duration(char *buf, int n, sim_time_t t);
void sim_format_size(char *buf, int n, double bytes);

#endif
