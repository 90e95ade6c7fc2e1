/* Values with units: exact decimal parsing and human-readable formatting.
 *
 * Durations, sizes and integers are computed exactly: the number is read as
 * an integer mantissa (up to 19 significant digits) times a power of ten,
 * multiplied by the unit's integer factor in 128-bit arithmetic and rounded
 * to the nearest unit (half away from zero; a size that is not a whole
 * number of bytes is an error instead). "0.1s" is therefore exactly
 * 100000000 ns and no result depends on the platform's floating point.
 * Rates, ratios, compute rates, bandwidths and plain doubles are converted
 * with one correctly rounded strtod() of the canonical text
 * "<mantissa>e<exponent>", which contains no decimal point and so does not
 * depend on the locale (binary units then scale by an exact power of two). */
#include "units.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define UNITS_LIMIT ((uint64_t)1 << 62) /* largest duration (ns) or size (bytes) */
#define UNITS_MAX_SIG 19                /* significant digits kept (fit in uint64) */
#define UNITS_EXP_CLAMP 100000          /* |exponent| beyond this is over/underflow anyway */

/* A decimal number: (neg ? -1 : 1) * mant * 10^exp. */
typedef struct {
    uint64_t mant;
    int32_t exp;
    bool neg;
    bool dropped;   /* nonzero digits beyond UNITS_MAX_SIG were dropped */
} units_dec_t;

static bool units_isdigit(char c) { return c >= '0' && c <= '9'; }

/* Parse [+-] digits [. digits] [(e|E) [+-] digits] (at least one mantissa
 * digit) at s. Returns the first byte after the number, or NULL if s does
 * not start with a number. An 'e' not followed by digits is not consumed. */
static const char *units_dec_parse(const char *s, units_dec_t *d)
{
    const char *p = s;
    int ndig = 0, nsig = 0;
    bool frac = false;
    int64_t exp = 0;

    memset(d, 0, sizeof *d);
    if (*p == '+' || *p == '-') d->neg = *p++ == '-';
    for (;; p++) {
        if (units_isdigit(*p)) {
            int dig = *p - '0';
            ndig++;
            if (nsig < UNITS_MAX_SIG) {
                if (nsig > 0 || dig != 0) {
                    d->mant = d->mant * 10 + (uint64_t)dig;
                    nsig++;
                }
                if (frac) exp--;
            } else {
                if (!frac) exp++;
                if (dig != 0) d->dropped = true;
            }
            if (exp > UNITS_EXP_CLAMP) exp = UNITS_EXP_CLAMP;
        } else if (*p == '.' && !frac) {
            frac = true;
        } else {
            break;
        }
    }
    if (ndig == 0) return NULL;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        bool eneg = false;
        if (*q == '+' || *q == '-') eneg = *q++ == '-';
        if (units_isdigit(*q)) {
            int64_t e = 0;
            while (units_isdigit(*q)) {
                if (e < UNITS_EXP_CLAMP) e = e * 10 + (*q - '0');
                q++;
            }
            exp += eneg ? -e : e;
            p = q;
        }
    }
    if (exp > UNITS_EXP_CLAMP) exp = UNITS_EXP_CLAMP;
    if (exp < -UNITS_EXP_CLAMP) exp = -UNITS_EXP_CLAMP;
    d->exp = (int32_t)exp;
    return p;
}

/* |d| * factor rounded to the nearest integer (half away from zero). Returns
 * SIM_ERANGE if the result exceeds `limit`. *exact tells whether no rounding
 * happened. factor < 2^48 so mant * factor < 2^112 fits in 128 bits. */
static int units_dec_scale(const units_dec_t *d, uint64_t factor, uint64_t limit, uint64_t *out,
                           bool *exact)
{
    *exact = !d->dropped;
    *out = 0;
    if (d->mant == 0 || factor == 0) return 0;
    unsigned __int128 v = (unsigned __int128)d->mant * factor;
    int e = d->exp;
    if (e >= 0) {
        for (; e > 0; e--) {
            v *= 10;
            if (v > limit) return SIM_ERANGE;
        }
        if (v > limit) return SIM_ERANGE;
        *out = (uint64_t)v;
        return 0;
    }
    if (e < -38) {          /* v < 2^112 < 10^34: rounds to 0 */
        *exact = false;
        return 0;
    }
    unsigned __int128 p = 1;
    for (; e < 0; e++) p *= 10;
    unsigned __int128 q = v / p, r = v % p;
    if (r != 0) *exact = false;
    if (r >= p - r) q++;    /* r*2 >= p without overflow */
    if (q > limit) return SIM_ERANGE;
    *out = (uint64_t)q;
    return 0;
}

/* |d| * 10^shift as a double, correctly rounded (one strtod of digits and
 * exponent only, so the locale's decimal point plays no part). */
static double units_dec_to_double(const units_dec_t *d, int shift)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%" PRIu64 "e%d", d->mant, (int)d->exp + shift);
    return strtod(buf, NULL);
}

/* True for the spellings of NaN and infinity people try: nan, inf,
 * infinity, .nan, .inf, with an optional sign, any case. */
static bool units_is_nonfinite_word(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') s++;
    static const char *const words[] = {"nan", "inf", "infinity"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        if (strncasecmp(s, words[i], n) == 0) {
            const char *rest = s + n;
            /* allow a unit after it ("inf s", "nan ms"): still non-finite */
            if (*rest == '\0' || *rest == ' ' || *rest == '/' || *rest == '%' ||
                (*rest >= 'a' && *rest <= 'z') || (*rest >= 'A' && *rest <= 'Z'))
                return true;
        }
    }
    return false;
}

/* After a number: skip one optional space before the unit. */
static const char *units_skip_space(const char *p)
{
    return *p == ' ' ? p + 1 : p;
}

typedef struct {
    const char *name;
    uint64_t factor;
} units_unit_t;

/* Time units, in nanoseconds. "µs" is U+00B5 (micro sign), "μs" U+03BC. */
static const units_unit_t units_time[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000},
    {"\xce\xbcs", 1000},
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", UINT64_C(60000000000)},
    {"min", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
    {"d", UINT64_C(86400000000000)},
};

static const units_unit_t units_sizes[] = {
    {"B", 1},
    {"KiB", UINT64_C(1) << 10},
    {"MiB", UINT64_C(1) << 20},
    {"GiB", UINT64_C(1) << 30},
    {"TiB", UINT64_C(1) << 40},
    {"kB", UINT64_C(1000)},
    {"MB", UINT64_C(1000000)},
    {"GB", UINT64_C(1000000000)},
    {"TB", UINT64_C(1000000000000)},
};

static const units_unit_t *units_find(const units_unit_t *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

#define UNITS_N(a) (sizeof(a) / sizeof((a)[0]))

static int units_fail(const char **why, const char *msg, int err)
{
    if (why) *why = msg;
    return err;
}

/* Shared by durations and sizes: number, optional space, unit from table. */
static int units_parse_scaled(const char *s, const units_unit_t *table, size_t n,
                              uint64_t *out, const char **why, const char *w_empty,
                              const char *w_nounit, const char *w_badunit,
                              const char *w_nonfinite, const char *w_negative,
                              const char *w_overflow, const char *w_inexact)
{
    units_dec_t d;
    if (!s || !*s) return units_fail(why, w_empty, SIM_EINVAL);
    if (units_is_nonfinite_word(s)) return units_fail(why, w_nonfinite, SIM_EINVAL);
    const char *p = units_dec_parse(s, &d);
    if (!p) return units_fail(why, w_nounit, SIM_EINVAL);
    if (*p == '\0') {
        /* A bare zero needs no unit; any other bare number is ambiguous. */
        if (d.mant == 0) {
            *out = 0;
            return 0;
        }
        return units_fail(why, w_nounit, SIM_EINVAL);
    }
    const units_unit_t *u = units_find(table, n, units_skip_space(p));
    if (!u) return units_fail(why, w_badunit, SIM_EINVAL);
    if (d.neg && d.mant != 0) return units_fail(why, w_negative, SIM_ERANGE);
    bool exact;
    if (units_dec_scale(&d, u->factor, UNITS_LIMIT, out, &exact) != 0)
        return units_fail(why, w_overflow, SIM_ERANGE);
    if (!exact && w_inexact) return units_fail(why, w_inexact, SIM_EINVAL);
    return 0;
}

int sim_parse_duration(const char *s, sim_time_t *out, const char **why)
{
    uint64_t v;
    int rc = units_parse_scaled(
        s, units_time, UNITS_N(units_time), &v, why,
        "expected a duration such as 250us, 20ms or 1.5s, got an empty value",
        "expected a duration with a unit such as 250us, 20ms or 1.5s",
        "expected a duration with a unit ns, us, ms, s, m (or min), h or d",
        "expected a finite duration",
        "expected a duration >= 0",
        "expected a duration of at most 2^62 ns (about 146 years)", NULL);
    if (rc == 0) *out = (sim_time_t)v;
    return rc;
}

int sim_parse_size(const char *s, int64_t *out, const char **why)
{
    uint64_t v;
    int rc = units_parse_scaled(
        s, units_sizes, UNITS_N(units_sizes), &v, why,
        "expected a size such as 512B, 4KiB or 1.5MiB, got an empty value",
        "expected a size with a unit such as 512B, 4KiB or 1.5MiB",
        "expected a size with a unit B, KiB, MiB, GiB, TiB, kB, MB, GB or TB",
        "expected a finite size",
        "expected a size >= 0",
        "expected a size of at most 2^62 bytes (4 EiB)",
        "expected a whole number of bytes (a size is exact to the byte: 1.5B or 0.4B is not a size, "
        "1.5KiB is 1536 bytes)");
    if (rc == 0) *out = (int64_t)v;
    return rc;
}

int sim_parse_rate(const char *s, double *per_second, const char **why)
{
    static const char w_unit[] = "expected a rate with a unit such as 800/s or 1.2k/s";
    static const char w_badunit[] =
        "expected a rate such as 800/s or 1.2k/s: a count, optional k or M, '/' and a "
        "time unit ns, us, ms, s, m (or min), h or d";
    units_dec_t d;
    if (!s || !*s) return units_fail(why, "expected a rate such as 800/s, got an empty value",
                                     SIM_EINVAL);
    if (units_is_nonfinite_word(s)) return units_fail(why, "expected a finite rate", SIM_EINVAL);
    const char *p = units_dec_parse(s, &d);
    if (!p) return units_fail(why, w_unit, SIM_EINVAL);
    if (*p == '\0') {
        if (d.mant == 0) {
            *per_second = 0.0;
            return 0;
        }
        return units_fail(why, w_unit, SIM_EINVAL);
    }
    p = units_skip_space(p);
    int shift = 0;
    if (*p == 'k') shift = 3, p++;
    else if (*p == 'M') shift = 6, p++;
    if (*p != '/') return units_fail(why, w_badunit, SIM_EINVAL);
    const units_unit_t *u = units_find(units_time, UNITS_N(units_time), p + 1);
    if (!u) return units_fail(why, w_badunit, SIM_EINVAL);
    if (d.neg && d.mant != 0) return units_fail(why, "expected a rate >= 0", SIM_ERANGE);

    /* Units up to 1 s divide 10^9 exactly: fold them into the exponent. */
    double v;
    switch (u->factor) {
    case 1: v = units_dec_to_double(&d, shift + 9); break;
    case 1000: v = units_dec_to_double(&d, shift + 6); break;
    case 1000000: v = units_dec_to_double(&d, shift + 3); break;
    default: v = units_dec_to_double(&d, shift) / ((double)u->factor / 1e9); break;
    }
    if (!isfinite(v)) return units_fail(why, "expected a finite rate (this one overflows)",
                                        SIM_ERANGE);
    *per_second = v;
    return 0;
}

/* A unit of a per-second quantity: the value is the number x 10^shift10 x
 * 2^shift2 (one correctly rounded conversion, then an exact power of two). */
typedef struct {
    const char *name;
    int shift10, shift2;
} units_scale_t;

static const units_scale_t units_flops[] = {
    {"FLOP/s", 0, 0},   {"kFLOP/s", 3, 0},  {"MFLOP/s", 6, 0},  {"GFLOP/s", 9, 0},
    {"TFLOP/s", 12, 0}, {"PFLOP/s", 15, 0}, {"EFLOP/s", 18, 0},
};

static const units_scale_t units_bandwidth[] = {
    {"B/s", 0, 0},   {"kB/s", 3, 0},   {"MB/s", 6, 0},   {"GB/s", 9, 0},   {"TB/s", 12, 0},
    {"KiB/s", 0, 10}, {"MiB/s", 0, 20}, {"GiB/s", 0, 30}, {"TiB/s", 0, 40},
};

typedef struct {
    const char *empty, *nounit, *badunit, *nonfinite, *negative, *overflow;
} units_msgs_t;

/* Number, optional space, a unit of `table`; a bare zero needs no unit. */
static int units_parse_per_second(const char *s, const units_scale_t *table, size_t n,
                                  double *out, const char **why, const units_msgs_t *m)
{
    units_dec_t d;
    if (!s || !*s) return units_fail(why, m->empty, SIM_EINVAL);
    if (units_is_nonfinite_word(s)) return units_fail(why, m->nonfinite, SIM_EINVAL);
    const char *p = units_dec_parse(s, &d);
    if (!p) return units_fail(why, m->nounit, SIM_EINVAL);
    if (*p == '\0') {
        if (d.mant == 0) {
            *out = 0.0;
            return 0;
        }
        return units_fail(why, m->nounit, SIM_EINVAL);
    }
    p = units_skip_space(p);
    const units_scale_t *u = NULL;
    for (size_t i = 0; i < n && !u; i++)
        if (strcmp(table[i].name, p) == 0) u = &table[i];
    if (!u) return units_fail(why, m->badunit, SIM_EINVAL);
    if (d.neg && d.mant != 0) return units_fail(why, m->negative, SIM_ERANGE);
    double v = ldexp(units_dec_to_double(&d, u->shift10), u->shift2);
    if (!isfinite(v)) return units_fail(why, m->overflow, SIM_ERANGE);
    *out = v;
    return 0;
}

int sim_parse_flops(const char *s, double *per_second, const char **why)
{
    static const units_msgs_t m = {
        "expected a compute rate such as 312TFLOP/s, got an empty value",
        "expected a compute rate with a unit such as 312TFLOP/s or 1.5PFLOP/s",
        "expected a compute rate with a unit FLOP/s, kFLOP/s, MFLOP/s, GFLOP/s, TFLOP/s, "
        "PFLOP/s or EFLOP/s",
        "expected a finite compute rate",
        "expected a compute rate >= 0",
        "expected a finite compute rate (this one overflows)",
    };
    return units_parse_per_second(s, units_flops, UNITS_N(units_flops), per_second, why, &m);
}

int sim_parse_bandwidth(const char *s, double *bytes_per_second, const char **why)
{
    static const units_msgs_t m = {
        "expected a bandwidth such as 2039GB/s, got an empty value",
        "expected a bandwidth with a unit such as 2039GB/s, 2.039TB/s or 600GiB/s",
        "expected a bandwidth with a unit B/s, kB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s "
        "or TiB/s",
        "expected a finite bandwidth",
        "expected a bandwidth >= 0",
        "expected a finite bandwidth (this one overflows)",
    };
    return units_parse_per_second(s, units_bandwidth, UNITS_N(units_bandwidth), bytes_per_second,
                                  why, &m);
}

int sim_parse_ratio(const char *s, double *out, const char **why)
{
    static const char w_what[] = "expected a ratio such as 0.35 or 35%";
    static const char w_range[] = "expected a ratio between 0 and 1 (or 0% and 100%)";
    units_dec_t d;
    if (!s || !*s) return units_fail(why, w_what, SIM_EINVAL);
    if (units_is_nonfinite_word(s)) return units_fail(why, w_range, SIM_EINVAL);
    const char *p = units_dec_parse(s, &d);
    if (!p) return units_fail(why, w_what, SIM_EINVAL);
    int shift = 0;
    if (*p != '\0') {
        p = units_skip_space(p);
        if (strcmp(p, "%") != 0) return units_fail(why, w_what, SIM_EINVAL);
        shift = -2;
    }
    double v = units_dec_to_double(&d, shift);
    if (d.neg && d.mant != 0) return units_fail(why, w_range, SIM_ERANGE);
    if (!(v >= 0.0 && v <= 1.0)) return units_fail(why, w_range, SIM_ERANGE);
    *out = v;
    return 0;
}

int sim_parse_double(const char *s, double *out, const char **why)
{
    units_dec_t d;
    if (!s || !*s) return units_fail(why, "expected a number, got an empty value", SIM_EINVAL);
    if (units_is_nonfinite_word(s)) return units_fail(why, "expected a finite number", SIM_EINVAL);
    const char *p = units_dec_parse(s, &d);
    if (!p || *p != '\0') return units_fail(why, "expected a number", SIM_EINVAL);
    double v = units_dec_to_double(&d, 0);
    if (!isfinite(v)) return units_fail(why, "expected a finite number (this one overflows)",
                                        SIM_ERANGE);
    *out = d.neg ? -v : v;
    return 0;
}

int sim_parse_int(const char *s, int64_t *out, const char **why)
{
    units_dec_t d;
    if (!s || !*s) return units_fail(why, "expected an integer, got an empty value", SIM_EINVAL);
    const char *p = units_dec_parse(s, &d);
    if (!p || *p != '\0') return units_fail(why, "expected an integer", SIM_EINVAL);
    uint64_t limit = d.neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v;
    bool exact;
    if (units_dec_scale(&d, 1, limit, &v, &exact) != 0)
        return units_fail(why, "expected an integer that fits in 64 bits", SIM_ERANGE);
    if (!exact) return units_fail(why, "expected a whole number", SIM_EINVAL);
    if (d.neg) *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else *out = (int64_t)v;
    return 0;
}

/* Print v (>= 1 in its unit, or 0) with three significant digits. Returns
 * the value as printed, so a caller can see that rounding reached `next`. */
static double units_round3(double v, int *decimals)
{
    double a = fabs(v);
    *decimals = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
    double scale = *decimals == 0 ? 1.0 : *decimals == 1 ? 10.0 : 100.0;
    return round(v * scale) / scale;
}

typedef struct {
    const char *name;
    double size;        /* in base units */
} units_fmt_t;

/* Largest unit whose value is >= 1 after rounding to 3 significant digits. */
static void units_format(char *buf, int n, double v, const units_fmt_t *u, size_t nu,
                         const char *zero)
{
    if (!buf || n <= 0) return;
    if (!isfinite(v)) {
        snprintf(buf, (size_t)n, "%g %s", v, u[0].name);
        return;
    }
    if (v == 0.0) {
        snprintf(buf, (size_t)n, "%s", zero);
        return;
    }
    double a = fabs(v);
    size_t k = 0;
    while (k + 1 < nu && a >= u[k + 1].size) k++;
    int dec;
    double r = units_round3(a / u[k].size, &dec);
    /* 999.7 ms prints as "1000 ms": move to the next unit instead. */
    if (k + 1 < nu && r * u[k].size >= u[k + 1].size) {
        k++;
        r = units_round3(a / u[k].size, &dec);
    }
    if (k == 0 && a == floor(a) && a < 1000) dec = 0; /* whole base units: "512 B", "7 ns" */
    snprintf(buf, (size_t)n, "%s%.*f %s", v < 0 ? "-" : "", dec, r, u[k].name);
}

void sim_format_duration(char *buf, int n, sim_time_t t)
{
    static const units_fmt_t u[] = {
        {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9},
        {"min", 60e9}, {"h", 3600e9}, {"d", 86400e9},
    };
    units_format(buf, n, (double)t, u, UNITS_N(u), "0 s");
}

void sim_format_size(char *buf, int n, double bytes)
{
    static const units_fmt_t u[] = {
        {"B", 1.0}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"TiB", 1099511627776.0}, {"PiB", 1125899906842624.0}, {"EiB", 1152921504606846976.0},
    };
    units_format(buf, n, bytes, u, UNITS_N(u), "0 B");
}
