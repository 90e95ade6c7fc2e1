/* The suites that check a model against measurements committed as CSV
 * (bench/vectordb/ CSV files): find the file by its name's prefix, read it into
 * a table of cells by column name, and read cells as numbers or text.
 * Header-only; every failure is a Criterion assertion naming the file. */
#ifndef RAGSIM_CSVFX_H
#define RAGSIM_CSVFX_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAXCOL 32
#define CSV_MAXROW 1024

typedef struct {
    int ncol;
    char names[CSV_MAXCOL][32];
    int nrow;
    char *cell[CSV_MAXROW][CSV_MAXCOL];
} csv_table_t;

static inline int csv_col(const csv_table_t *t, const char *name)
{
    for (int i = 0; i < t->ncol; i++)
        if (!strcmp(t->names[i], name)) return i;
    cr_assert_fail("the measured CSV has no column '%s'", name);
    return -1;
}

/* A cell as a number (an empty cell is 0) or as text. */
static inline double csv_num(const csv_table_t *t, int r, const char *name)
{
    const char *s = t->cell[r][csv_col(t, name)];
    return *s ? strtod(s, NULL) : 0;
}

static inline const char *csv_str(const csv_table_t *t, int r, const char *name) { return t->cell[r][csv_col(t, name)]; }

/* Read <source>/<dir>/<prefix>*.csv (the last such file the directory lists)
 * into t: the first line names the columns, every other line is a row of as
 * many cells. */
static inline void csv_load(csv_table_t *t, const char *dir_in_source, const char *prefix)
{
    char dir[3000], path[4400];
    snprintf(dir, sizeof dir, "%s/%s", RAGSIM_SOURCE_DIR, dir_in_source);
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "no %s", dir);
    struct dirent *e;
    path[0] = '\0';
    size_t np = strlen(prefix);
    while ((e = readdir(dp)))
        if (!strncmp(e->d_name, prefix, np) && strstr(e->d_name, ".csv") && !strcmp(strstr(e->d_name, ".csv"), ".csv"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(dp);
    cr_assert(path[0], "no %s*.csv in %s", prefix, dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char line[4096];
    memset(t, 0, sizeof *t);
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        int c = 0;
        char *p = line;
        for (;;) {
            char *q = strchr(p, ',');
            if (q) *q = '\0';
            cr_assert_lt(c, CSV_MAXCOL);
            if (first) {
                cr_assert_lt(strlen(p), sizeof t->names[c], "column name '%s' too long", p);
                memcpy(t->names[c], p, strlen(p) + 1);
            } else
                t->cell[t->nrow][c] = strdup(p);
            c++;
            if (!q) break;
            p = q + 1;
        }
        if (first) t->ncol = c, first = 0;
        else {
            cr_assert_eq(c, t->ncol, "row %d has %d cells, the header %d", t->nrow + 2, c, t->ncol);
            cr_assert_lt(++t->nrow, CSV_MAXROW);
        }
    }
    fclose(f);
    cr_log_info("%s: %d rows", path, t->nrow);
}

static inline void csv_unload(csv_table_t *t)
{
    for (int r = 0; r < t->nrow; r++)
        for (int c = 0; c < t->ncol; c++) free(t->cell[r][c]);
}

#endif
