/* sim/json: the streaming JSON writer, against hand-written documents. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/json.h"

/* Run fn on a writer into memory; returns the text (static buffer) and the finish status. */
static char text[4096];
static int status;

static void capture(void (*fn)(sim_json_t *), int indent)
{
    FILE *f = fmemopen(text, sizeof text, "w");
    cr_assert(f);
    sim_json_t j;
    sim_json_init(&j, f, indent);
    fn(&j);
    status = sim_json_finish(&j);
    fclose(f);
}

static void doc_nested(sim_json_t *j)
{
    sim_json_begin_obj(j, NULL);
    sim_json_str(j, "name", "a\"b\\c\n\t\x01");
    sim_json_num(j, "x_s", 0.1);
    sim_json_num(j, "nan", NAN);
    sim_json_num(j, "inf", -INFINITY);
    sim_json_num(j, "neg0", -0.0);
    sim_json_int(j, "i", -3);
    sim_json_uint(j, "u", 18446744073709551615ull);
    sim_json_bool(j, "t", true);
    sim_json_null(j, "z");
    sim_json_str(j, "s", NULL);
    sim_json_begin_arr(j, "a");
    sim_json_num(j, NULL, 1);
    sim_json_begin_obj(j, NULL);
    sim_json_end(j);
    sim_json_begin_arr(j, NULL);
    sim_json_end(j);
    sim_json_end(j);
    sim_json_end(j);
}

Test(json, compact_document_by_hand)
{
    capture(doc_nested, 0);
    cr_assert_eq(status, 0);
    cr_assert_str_eq(text, "{\"name\":\"a\\\"b\\\\c\\n\\t\\u0001\",\"x_s\":0.1,\"nan\":null,\"inf\":null,\"neg0\":0,"
                           "\"i\":-3,\"u\":18446744073709551615,\"t\":true,\"z\":null,\"s\":null,"
                           "\"a\":[1,{},[]]}\n");
}

static void doc_small(sim_json_t *j)
{
    sim_json_begin_obj(j, NULL);
    sim_json_begin_arr(j, "v");
    sim_json_int(j, NULL, 1);
    sim_json_int(j, NULL, 2);
    sim_json_end(j);
    sim_json_end(j);
}

Test(json, indented_document_by_hand)
{
    capture(doc_small, 2);
    cr_assert_eq(status, 0);
    cr_assert_str_eq(text, "{\n  \"v\": [\n    1,\n    2\n  ]\n}\n");
}

/* every double is written with the fewest digits that read back bit-identical */
static double roundtrip_value;
static void doc_one(sim_json_t *j) { sim_json_num(j, NULL, roundtrip_value); }

Test(json, numbers_read_back_identical)
{
    const double v[] = {0.1, 1.0 / 3, 0.95, 1e-300, 5e-324, 1.7976931348623157e308, 123456789012345678.0,
                        2.5e-7, -42.125};
    const char *want[] = {"0.1", "0.3333333333333333", "0.95", "1e-300", "4.94065645841247e-324",
                          "1.7976931348623157e+308", "1.2345678901234568e+17", "2.5e-07", "-42.125"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        roundtrip_value = v[i];
        capture(doc_one, 0);
        cr_assert_eq(status, 0);
        text[strcspn(text, "\n")] = 0;
        cr_expect_str_eq(text, want[i], "%.17g", v[i]);
        cr_expect_eq(strtod(text, NULL), v[i], "%s", text);
    }
}

/* valid UTF-8 is copied; a stray continuation byte, each byte of an
 * overlong form, an encoded surrogate, a truncated sequence and a byte
 * that never starts one (0xFF) become U+FFFD */
static const char *utf8_in;
static void doc_utf8(sim_json_t *j) { sim_json_str(j, NULL, utf8_in); }

Test(json, utf8_kept_and_invalid_replaced)
{
    utf8_in = "\xC2\xB1 \xE2\x96\xB2 \xF0\x9F\x98\x80";   /* ± ▲ 😀 */
    capture(doc_utf8, 0);
    cr_assert_str_eq(text, "\"\xC2\xB1 \xE2\x96\xB2 \xF0\x9F\x98\x80\"\n");
    utf8_in = "a\x80" "b\xC0\xAF" "c\xED\xA0\x80" "e\xFF" "d\xE2\x96";
    capture(doc_utf8, 0);
    cr_assert_str_eq(text, "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD" "e\xEF\xBF\xBD"
                           "d\xEF\xBF\xBD\"\n");
}

static void doc_unbalanced(sim_json_t *j) { sim_json_begin_obj(j, NULL); }
static void doc_extra_end(sim_json_t *j)
{
    sim_json_begin_arr(j, NULL);
    sim_json_end(j);
    sim_json_end(j);
}
static void doc_too_deep(sim_json_t *j)
{
    for (int i = 0; i <= SIM_JSON_MAX_DEPTH; i++) sim_json_begin_arr(j, NULL);
    for (int i = 0; i <= SIM_JSON_MAX_DEPTH; i++) sim_json_end(j);
}

Test(json, misuse_is_reported)
{
    capture(doc_unbalanced, 0);
    cr_assert_eq(status, -1);
    capture(doc_extra_end, 0);
    cr_assert_eq(status, -1);
    capture(doc_too_deep, 0);
    cr_assert_eq(status, -1);
}
