/* sim/table: row layout, growth, row limit, string truncation, getters. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sim/table.h"

Test(table, columns_are_8_byte_aligned_in_declaration_order)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    cr_assert_eq(sim_table_col_i64(&t, "a", "s"), 0);
    cr_assert_eq(sim_table_col_str(&t, "b", 5), 1);  /* padded to 8 */
    cr_assert_eq(sim_table_col_f64(&t, "c", "1"), 2);
    cr_assert_eq(sim_table_col_str(&t, "d", 8), 3);  /* already a multiple of 8 */
    cr_assert_eq(sim_table_col_str(&t, "e", 9), 4);  /* padded to 16 */
    size_t want[] = {0, 8, 16, 24, 32};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(t.cols[i].offset, want[i], "col %d offset %zu", i, t.cols[i].offset);
    cr_assert_eq(t.row_size, 48);
    cr_assert_eq(t.cols[1].width, 5);
    cr_assert_eq(t.cols[0].width, 8);
    cr_assert_str_eq(t.cols[0].unit, "s");
    cr_assert_str_eq(t.cols[1].unit, "");
    cr_assert_str_eq(t.name, "x");
    sim_table_fini(&t);
}

Test(table, append_doubles_capacity_and_keeps_every_row)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    int ci = sim_table_col_i64(&t, "i", "1");
    int cf = sim_table_col_f64(&t, "f", "s");
    int cs = sim_table_col_str(&t, "s", 12);
    size_t last_cap = 0, grows = 0;
    for (int64_t i = 0; i < 10000; i++) {
        unsigned char *r = sim_table_append(&t);
        cr_assert_not_null(r);
        if (t.cap != last_cap) {
            cr_assert(last_cap == 0 || t.cap == 2 * last_cap, "cap %zu -> %zu", last_cap, t.cap);
            last_cap = t.cap;
            grows++;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "r%lld", (long long)i);
        sim_row_i64(&t, r, ci, i * 3 - 7);
        sim_row_f64(&t, r, cf, (double)i / 8.0);
        sim_row_str(&t, r, cs, buf);
    }
    cr_assert_eq(t.nrows, 10000);
    cr_assert_eq(t.dropped, 0);
    cr_assert_leq(grows, 10, "grew %zu times", grows); /* 64 .. 16384 */
    for (int64_t i = 0; i < 10000; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "r%lld", (long long)i);
        cr_assert_eq(sim_table_get_i64(&t, (size_t)i, ci), i * 3 - 7);
        cr_assert_eq(sim_table_get_f64(&t, (size_t)i, cf), (double)i / 8.0);
        cr_assert_str_eq(sim_table_get_str(&t, (size_t)i, cs), buf);
    }
    cr_assert_eq(sim_table_row(&t, 5), t.rows + 5 * t.row_size);
    sim_table_fini(&t);
    cr_assert_null(t.rows);
    cr_assert_eq(t.nrows, 0);
}

Test(table, max_rows_stores_the_first_rows_and_counts_the_rest)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    int c = sim_table_col_i64(&t, "i", "1");
    t.max_rows = 3;
    for (int64_t i = 0; i < 5; i++) {
        unsigned char *r = sim_table_append(&t);
        if (i < 3) {
            cr_assert_not_null(r, "row %lld", (long long)i);
            sim_row_i64(&t, r, c, i);
        } else {
            cr_assert_null(r, "row %lld", (long long)i);
        }
    }
    cr_assert_eq(t.nrows, 3);
    cr_assert_eq(t.dropped, 2);
    cr_assert_leq(t.cap, 3, "a bounded table allocates at most max_rows (cap %zu)", t.cap);
    cr_assert_eq(sim_table_get_i64(&t, 2, c), 2);
    sim_table_fini(&t);
}

Test(table, str_copies_width_minus_one_bytes_and_zeroes_the_rest)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    int a = sim_table_col_i64(&t, "a", "1");
    int s = sim_table_col_str(&t, "s", 8);
    unsigned char *r = sim_table_append(&t);
    sim_row_i64(&t, r, a, -1);
    sim_row_str(&t, r, s, "abcdefg");                 /* exactly width-1 */
    cr_assert_str_eq(sim_table_get_str(&t, 0, s), "abcdefg");
    sim_row_str(&t, r, s, "abcdefghijkl");            /* truncated */
    cr_assert_str_eq(sim_table_get_str(&t, 0, s), "abcdefg");
    sim_row_str(&t, r, s, "xy");                      /* shorter: old bytes cleared */
    const unsigned char *cell = sim_table_row(&t, 0) + t.cols[s].offset;
    const unsigned char want[8] = {'x', 'y', 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(cell, want, 8);
    sim_row_str(&t, r, s, NULL);
    cr_assert_str_eq(sim_table_get_str(&t, 0, s), "");
    cr_assert_eq(sim_table_get_i64(&t, 0, a), -1, "neighbouring column untouched");
    sim_table_fini(&t);
}

Test(table, str_truncation_never_splits_a_utf8_character)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    int s = sim_table_col_str(&t, "s", 4);
    unsigned char *r = sim_table_append(&t);
    sim_row_str(&t, r, s, "a\xC3\xA9");               /* "aé": 3 bytes, fits */
    cr_assert_str_eq(sim_table_get_str(&t, 0, s), "a\xC3\xA9");
    sim_row_str(&t, r, s, "a\xE2\x82\xAC");           /* "a€": 4 bytes, € would be cut */
    cr_assert_str_eq(sim_table_get_str(&t, 0, s), "a");
    sim_row_str(&t, r, s, "ab\xC3\xA9");              /* "abé": é would be cut */
    cr_assert_str_eq(sim_table_get_str(&t, 0, s), "ab");
    sim_table_fini(&t);
}

Test(table, columns_are_refused_when_invalid_or_after_the_first_row)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    char names[SIM_TABLE_MAX_COLS + 1][16];
    for (int i = 0; i < SIM_TABLE_MAX_COLS; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        cr_assert_eq(sim_table_col_f64(&t, names[i], "1"), i);
    }
    snprintf(names[SIM_TABLE_MAX_COLS], sizeof names[SIM_TABLE_MAX_COLS], "extra");
    cr_assert_eq(sim_table_col_f64(&t, names[SIM_TABLE_MAX_COLS], "1"), -1, "too many");
    sim_table_fini(&t);

    sim_table_init(&t, "y");
    cr_assert_eq(sim_table_col_i64(&t, "a", "1"), 0);
    cr_assert_eq(sim_table_col_i64(&t, "a", "1"), -1, "duplicate name");
    cr_assert_eq(sim_table_col_str(&t, "z", 0), -1, "zero width");
    cr_assert_eq(sim_table_col_i64(&t, "", "1"), -1, "empty name");
    cr_assert_not_null(sim_table_append(&t));
    cr_assert_eq(sim_table_col_i64(&t, "b", "1"), -1, "after the first row");
    cr_assert_eq(t.ncols, 1);
    cr_assert_eq(t.row_size, 8);
    sim_table_fini(&t);
}

Test(table, find_col_by_name)
{
    sim_table_t t;
    sim_table_init(&t, "x");
    sim_table_col_i64(&t, "alpha", "1");
    sim_table_col_str(&t, "beta", 4);
    cr_assert_eq(sim_table_find_col(&t, "alpha"), 0);
    cr_assert_eq(sim_table_find_col(&t, "beta"), 1);
    cr_assert_eq(sim_table_find_col(&t, "gamma"), -1);
    cr_assert_eq(sim_table_find_col(&t, "alph"), -1);
    sim_table_fini(&t);
}
