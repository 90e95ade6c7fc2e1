/* Units: exact parsing of durations, sizes, rates, ratios, numbers; formatting. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sim/error.h"
#include "sim/units.h"

/* ---- Durations ---------------------------------------------------------- */

Test(units, durations_parse_to_exact_nanoseconds)
{
    static const struct {
        const char *text;
        sim_time_t ns;
    } cases[] = {
        {"250us", 250000},
        {"250\xc2\xb5s", 250000},          /* micro sign U+00B5 */
        {"250\xce\xbcs", 250000},          /* Greek mu U+03BC */
        {"20ms", 20000000},
        {"3s", 3000000000},
        {"1.5s", 1500000000},
        {"5m", 300000000000},
        {"5min", 300000000000},
        {"1h", 3600000000000},
        {"2d", 172800000000000},
        {"0s", 0},
        {"1e3ms", 1000000000},
        {"7ns", 7},
        {"0.1s", 100000000},               /* exact, no binary rounding */
        {".5s", 500000000},
        {"20 ms", 20000000},               /* one optional space */
        {"0", 0},                          /* bare zero needs no unit */
        {"1.0000000005s", 1000000001},     /* 1000000000.5 ns rounds half away */
        {"0.4ns", 0},
        {"4611686018427387904ns", INT64_C(4611686018427387904)}, /* 2^62: the limit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_time_t v = -1;
        const char *why = NULL;
        int rc = sim_parse_duration(cases[i].text, &v, &why);
        cr_assert_eq(rc, 0, "'%s' failed: %s", cases[i].text, why ? why : "?");
        cr_assert_eq(v, cases[i].ns, "'%s' -> %lld, want %lld", cases[i].text, (long long)v,
                     (long long)cases[i].ns);
    }
}

Test(units, duration_errors_say_what_was_expected)
{
    static const struct {
        const char *text;
        int rc;
        const char *why;
    } cases[] = {
        {"800", SIM_EINVAL, "with a unit such as 250us, 20ms or 1.5s"},
        {"5 parsecs", SIM_EINVAL, "unit ns, us, ms, s, m (or min), h or d"},
        {"3sec", SIM_EINVAL, "unit ns, us, ms, s, m (or min), h or d"},
        {"20  ms", SIM_EINVAL, "unit ns, us"},      /* only one space */
        {"20ms junk", SIM_EINVAL, "unit ns, us"},
        {"1.2.3s", SIM_EINVAL, "unit ns, us"},
        {"-1s", SIM_ERANGE, "duration >= 0"},
        {"nan", SIM_EINVAL, "finite duration"},
        {"inf", SIM_EINVAL, "finite duration"},
        {".inf", SIM_EINVAL, "finite duration"},
        {"1e30s", SIM_ERANGE, "at most 2^62 ns"},
        {"4611686018427387905ns", SIM_ERANGE, "at most 2^62 ns"},
        {"", SIM_EINVAL, "empty value"},
        {"ms", SIM_EINVAL, "with a unit such as"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_time_t v = 12345;
        const char *why = NULL;
        int rc = sim_parse_duration(cases[i].text, &v, &why);
        cr_assert_eq(rc, cases[i].rc, "'%s': rc %d, want %d", cases[i].text, rc, cases[i].rc);
        cr_assert_not_null(why, "'%s': no why", cases[i].text);
        cr_assert(strstr(why, cases[i].why), "'%s': why '%s' lacks '%s'", cases[i].text, why,
                  cases[i].why);
        cr_assert_eq(v, 12345, "'%s': output written on error", cases[i].text);
    }
}

Test(units, null_why_is_allowed)
{
    sim_time_t v;
    cr_assert_eq(sim_parse_duration("800", &v, NULL), SIM_EINVAL);
    cr_assert_eq(sim_parse_duration(NULL, &v, NULL), SIM_EINVAL);
}

/* ---- Sizes -------------------------------------------------------------- */

Test(units, sizes_parse_binary_and_decimal_units)
{
    static const struct {
        const char *text;
        int64_t bytes;
    } cases[] = {
        {"512B", 512},
        {"4KiB", 4096},
        {"1.5MiB", 1572864},
        {"4GiB", INT64_C(4294967296)},
        {"1TiB", INT64_C(1099511627776)},
        {"1kB", 1000},
        {"1MB", 1000000},
        {"1GB", 1000000000},
        {"2TB", INT64_C(2000000000000)},
        {"0.5KiB", 512},                   /* a fraction of a unit that is a whole number of bytes */
        {"1.0e3B", 1000},
        {"0", 0},
        {"64 KiB", 65536},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -1;
        const char *why = NULL;
        cr_assert_eq(sim_parse_size(cases[i].text, &v, &why), 0, "'%s': %s", cases[i].text,
                     why ? why : "?");
        cr_assert_eq(v, cases[i].bytes, "'%s' -> %lld", cases[i].text, (long long)v);
    }
}

/* A size is exact to the byte: a fraction of a byte is an error, not
 * rounded ("0.4B" used to become 0, which --max-memory reads as "no
 * limit"; "1.5B" became 2 B). */
Test(units, sizes_are_whole_bytes)
{
    const char *bad[] = {"0.4B", "1.5B", "0.5B", "1.0001KiB", "1e-1B", "0.0000001MB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = -7;
        const char *why = NULL;
        cr_assert_eq(sim_parse_size(bad[i], &v, &why), SIM_EINVAL, "'%s' accepted as %lld", bad[i], (long long)v);
        cr_assert_eq(v, -7, "'%s': the output was written", bad[i]);
        cr_assert(why && strstr(why, "whole number of bytes"), "'%s': %s", bad[i], why ? why : "(no message)");
    }
}

Test(units, size_errors_name_the_units)
{
    const char *bad[] = {"512", "4KB", "4 kb", "4Gi", "1 GiB s", "-1B", "9EiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        const char *why = NULL;
        int rc = sim_parse_size(bad[i], &v, &why);
        cr_assert_neq(rc, 0, "'%s' accepted", bad[i]);
        cr_assert_not_null(why);
    }
    int64_t v;
    const char *why;
    sim_parse_size("4KB", &v, &why);
    cr_assert_str_eq(why, "expected a size with a unit B, KiB, MiB, GiB, TiB, kB, MB, GB or TB");
    sim_parse_size("512", &v, &why);
    cr_assert_str_eq(why, "expected a size with a unit such as 512B, 4KiB or 1.5MiB");
    cr_assert_eq(sim_parse_size("5000000TB", &v, &why), SIM_ERANGE);
    cr_assert(strstr(why, "at most 2^62 bytes"));
}

/* ---- Rates -------------------------------------------------------------- */

Test(units, rates_parse_to_events_per_second)
{
    static const struct {
        const char *text;
        double per_s;
    } cases[] = {
        {"800/s", 800.0},
        {"1.2k/s", 1200.0},
        {"3M/h", 3e6 / 3600.0},
        {"50/min", 50.0 / 60.0},
        {"50/m", 50.0 / 60.0},
        {"10/ms", 10000.0},
        {"0.5/s", 0.5},
        {"1/us", 1e6},
        {"2/d", 2.0 / 86400.0},
        {"0", 0.0},
        {"800 /s", 800.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        const char *why = NULL;
        cr_assert_eq(sim_parse_rate(cases[i].text, &v, &why), 0, "'%s': %s", cases[i].text,
                     why ? why : "?");
        cr_assert_eq(v, cases[i].per_s, "'%s' -> %.17g, want %.17g", cases[i].text, v,
                     cases[i].per_s);
    }
}

Test(units, rate_without_unit_is_rejected)
{
    double v;
    const char *why = NULL;
    cr_assert_eq(sim_parse_rate("800", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a rate with a unit such as 800/s or 1.2k/s");
    cr_assert_eq(sim_parse_rate("800/sec", &v, &why), SIM_EINVAL);
    cr_assert(strstr(why, "'/' and a time unit"));
    cr_assert_eq(sim_parse_rate("800G/s", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_rate("-1/s", &v, &why), SIM_ERANGE);
    cr_assert_str_eq(why, "expected a rate >= 0");
    cr_assert_eq(sim_parse_rate("1e400/s", &v, &why), SIM_ERANGE);
    cr_assert(strstr(why, "finite"));
    cr_assert_eq(sim_parse_rate("nan/s", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_rate("", &v, &why), SIM_EINVAL);
}

/* ---- Compute rates and bandwidths --------------------------------------- */

Test(units, flops_parse_to_operations_per_second)
{
    static const struct {
        const char *text;
        double per_s;
    } cases[] = {
        {"312TFLOP/s", 312e12},
        {"989.5TFLOP/s", 989.5e12},
        {"1.5PFLOP/s", 1.5e15},
        {"149.7 TFLOP/s", 149.7e12},
        {"362.05TFLOP/s", 362.05e12},
        {"2EFLOP/s", 2e18},
        {"800GFLOP/s", 800e9},
        {"5MFLOP/s", 5e6},
        {"3kFLOP/s", 3e3},
        {"7FLOP/s", 7.0},
        {"1e3TFLOP/s", 1e15},
        {"0", 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        const char *why = NULL;
        cr_assert_eq(sim_parse_flops(cases[i].text, &v, &why), 0, "'%s': %s", cases[i].text,
                     why ? why : "?");
        cr_assert_eq(v, cases[i].per_s, "'%s' -> %.17g, want %.17g", cases[i].text, v,
                     cases[i].per_s);
    }
}

Test(units, flops_errors_name_the_units)
{
    double v = 42;
    const char *why = NULL;
    cr_assert_eq(sim_parse_flops("312", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a compute rate with a unit such as 312TFLOP/s or 1.5PFLOP/s");
    cr_assert_eq(sim_parse_flops("312TFLOPS", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a compute rate with a unit FLOP/s, kFLOP/s, MFLOP/s, GFLOP/s, "
                          "TFLOP/s, PFLOP/s or EFLOP/s");
    cr_assert_eq(sim_parse_flops("312tflop/s", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_flops("312  TFLOP/s", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_flops("-1TFLOP/s", &v, &why), SIM_ERANGE);
    cr_assert_str_eq(why, "expected a compute rate >= 0");
    cr_assert_eq(sim_parse_flops("1e400EFLOP/s", &v, &why), SIM_ERANGE);
    cr_assert_str_eq(why, "expected a finite compute rate (this one overflows)");
    cr_assert_eq(sim_parse_flops("inf TFLOP/s", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a finite compute rate");
    cr_assert_eq(sim_parse_flops("", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_flops(NULL, &v, NULL), SIM_EINVAL);
    cr_assert_eq(v, 42, "*out is not written on error");
}

Test(units, bandwidths_parse_to_bytes_per_second)
{
    static const struct {
        const char *text;
        double per_s;
    } cases[] = {
        {"2039GB/s", 2039e9},
        {"2.039TB/s", 2.039e12},
        {"3.35TB/s", 3.35e12},
        {"600GB/s", 600e9},
        {"600GiB/s", 600.0 * 1073741824.0},
        {"1.5GiB/s", 1.5 * 1073741824.0},
        {"64 GB/s", 64e9},
        {"512MiB/s", 512.0 * 1048576.0},
        {"4KiB/s", 4096.0},
        {"2TiB/s", 2.0 * 1099511627776.0},
        {"100MB/s", 1e8},
        {"7kB/s", 7000.0},
        {"9B/s", 9.0},
        {"0", 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        const char *why = NULL;
        cr_assert_eq(sim_parse_bandwidth(cases[i].text, &v, &why), 0, "'%s': %s", cases[i].text,
                     why ? why : "?");
        cr_assert_eq(v, cases[i].per_s, "'%s' -> %.17g, want %.17g", cases[i].text, v,
                     cases[i].per_s);
    }
}

Test(units, bandwidth_errors_name_the_units)
{
    double v = 42;
    const char *why = NULL;
    cr_assert_eq(sim_parse_bandwidth("2039", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a bandwidth with a unit such as 2039GB/s, 2.039TB/s or 600GiB/s");
    cr_assert_eq(sim_parse_bandwidth("2039GB", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a bandwidth with a unit B/s, kB/s, MB/s, GB/s, TB/s, KiB/s, "
                          "MiB/s, GiB/s or TiB/s");
    cr_assert_eq(sim_parse_bandwidth("2039GBps", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_bandwidth("2039GB/ms", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_bandwidth("1KB/s", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_bandwidth("-1GB/s", &v, &why), SIM_ERANGE);
    cr_assert_str_eq(why, "expected a bandwidth >= 0");
    cr_assert_eq(sim_parse_bandwidth("1e400TB/s", &v, &why), SIM_ERANGE);
    cr_assert(strstr(why, "overflows"));
    cr_assert_eq(sim_parse_bandwidth("nan GB/s", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_bandwidth("", &v, &why), SIM_EINVAL);
    cr_assert_eq(v, 42, "*out is not written on error");
}

/* ---- Ratios ------------------------------------------------------------- */

Test(units, ratios_accept_fractions_and_percentages)
{
    static const struct {
        const char *text;
        double v;
    } cases[] = {
        {"0.35", 0.35}, {"35%", 0.35}, {"0", 0.0}, {"1", 1.0},
        {"100%", 1.0},  {"35 %", 0.35}, {"0.5%", 0.005}, {"1e-1", 0.1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        cr_assert_eq(sim_parse_ratio(cases[i].text, &v, NULL), 0, "'%s'", cases[i].text);
        cr_assert_eq(v, cases[i].v, "'%s' -> %.17g", cases[i].text, v);
    }
}

Test(units, ratio_out_of_range_is_rejected)
{
    const char *bad[] = {"1.5", "-0.1", "150%", "nan", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        const char *why = NULL;
        cr_assert_neq(sim_parse_ratio(bad[i], &v, &why), 0, "'%s' accepted", bad[i]);
        cr_assert_str_eq(why, "expected a ratio between 0 and 1 (or 0% and 100%)", "'%s': %s",
                         bad[i], why);
    }
    double v;
    const char *why;
    cr_assert_eq(sim_parse_ratio("35 percent", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a ratio such as 0.35 or 35%");
}

/* ---- Plain numbers ------------------------------------------------------ */

Test(units, int_accepts_decimal_and_exact_exponents)
{
    static const struct {
        const char *text;
        int64_t v;
    } cases[] = {
        {"42", 42},
        {"-7", -7},
        {"+3", 3},
        {"0", 0},
        {"1e6", 1000000},
        {"2.5e3", 2500},
        {"1.0", 1},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 99;
        cr_assert_eq(sim_parse_int(cases[i].text, &v, NULL), 0, "'%s'", cases[i].text);
        cr_assert_eq(v, cases[i].v, "'%s' -> %lld", cases[i].text, (long long)v);
    }
}

Test(units, int_rejects_fractions_overflow_and_other_notations)
{
    static const struct {
        const char *text;
        int rc;
        const char *why;
    } cases[] = {
        {"1.5", SIM_EINVAL, "expected a whole number"},
        {"1e-3", SIM_EINVAL, "expected a whole number"},
        {"9223372036854775808", SIM_ERANGE, "fits in 64 bits"},
        {"1e100", SIM_ERANGE, "fits in 64 bits"},
        {"10_000", SIM_EINVAL, "expected an integer"},
        {"0x10", SIM_EINVAL, "expected an integer"},
        {"", SIM_EINVAL, "empty value"},
        {"12abc", SIM_EINVAL, "expected an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 99;
        const char *why = NULL;
        cr_assert_eq(sim_parse_int(cases[i].text, &v, &why), cases[i].rc, "'%s'", cases[i].text);
        cr_assert(why && strstr(why, cases[i].why), "'%s': why '%s'", cases[i].text,
                  why ? why : "(null)");
        cr_assert_eq(v, 99);
    }
}

Test(units, double_is_finite_only)
{
    double v = 0;
    cr_assert_eq(sim_parse_double("1.5", &v, NULL), 0);
    cr_assert_eq(v, 1.5);
    cr_assert_eq(sim_parse_double("-2e-3", &v, NULL), 0);
    cr_assert_eq(v, -2e-3);
    cr_assert_eq(sim_parse_double("0.1", &v, NULL), 0);
    cr_assert_eq(v, 0.1);
    const char *why = NULL;
    cr_assert_eq(sim_parse_double("nan", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a finite number");
    cr_assert_eq(sim_parse_double("-.inf", &v, &why), SIM_EINVAL);
    cr_assert_eq(sim_parse_double("1e400", &v, &why), SIM_ERANGE);
    cr_assert(strstr(why, "overflows"));
    cr_assert_eq(sim_parse_double("1.5x", &v, &why), SIM_EINVAL);
    cr_assert_str_eq(why, "expected a number");
    cr_assert_eq(v, 0.1, "output changed by a failed parse");
}

/* ---- Formatting --------------------------------------------------------- */

Test(units, format_duration_uses_largest_unit_and_three_digits)
{
    static const struct {
        sim_time_t t;
        const char *text;
    } cases[] = {
        {0, "0 s"},
        {7, "7 ns"},
        {1250000000, "1.25 s"},
        {20 * SIM_MS, "20.0 ms"},
        {850 * SIM_US, "850 us"},
        {999999999, "1.00 s"},                 /* rounding moves to the next unit */
        {59999900000, "1.00 min"},
        {90 * SIM_SEC, "1.50 min"},
        {2 * SIM_HOUR + 5 * SIM_MIN, "2.08 h"},
        {3 * 24 * SIM_HOUR, "3.00 d"},
        {-20 * SIM_MS, "-20.0 ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        sim_format_duration(buf, sizeof buf, cases[i].t);
        cr_assert_str_eq(buf, cases[i].text, "%lld ns", (long long)cases[i].t);
    }
}

Test(units, format_size_uses_binary_units)
{
    static const struct {
        double b;
        const char *text;
    } cases[] = {
        {0, "0 B"},
        {512, "512 B"},
        {1536, "1.50 KiB"},
        {3.0 * 1073741824.0, "3.00 GiB"},
        {1048575, "1.00 MiB"},
        {123456789, "118 MiB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        sim_format_size(buf, sizeof buf, cases[i].b);
        cr_assert_str_eq(buf, cases[i].text, "%g bytes", cases[i].b);
    }
}

Test(units, format_truncates_to_buffer)
{
    char buf[4] = "xxx";
    sim_format_duration(buf, sizeof buf, 1250000000);
    cr_assert_str_eq(buf, "1.2");
    char one[1] = {'x'};
    sim_format_size(one, 1, 512);
    cr_assert_eq(one[0], '\0');
}
