/* The registry of models (model_find) and the run report (rs_report_*).
 * Names every model type; calls the engine's scenario tree. */
#include "models/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

/* The registry: every model the scenario's `model:` key can name. */
static const model_type_t *const models[] = {&network_model, &rag_model};
static const char *const model_names[] = {"network", "rag", NULL};

const model_type_t *model_find(sim_diag_t *d, sim_cfg_node_t *root)
{
    int dflt = sim_cfg_get(root, "pipeline") ? 1 : 0;
    int k = dflt;
    if (sim_cfg_enum(d, root, "model", 0, model_names, dflt, &k) != 0) return NULL;
    return models[k];
}

int model_direction(const model_type_t *m, const char *metric)
{
    if (!m || !m->directions || !metric) return 0;
    for (const model_direction_t *d = m->directions; d->metric; d++)
        if (!strcmp(d->metric, metric)) return d->dir;
    return 0;
}

void rs_report_init(rs_report_t *r) { memset(r, 0, sizeof *r); }

void rs_report_fini(rs_report_t *r)
{
    free(r->e);
    free(r->notes);
    memset(r, 0, sizeof *r);
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, RS_NAME_MAX, "%s", src ? src : "");
}

void rs_report_add(rs_report_t *r, const char *section, const char *row, const char *col, rs_kind_t kind,
                   double value)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        rs_entry_t *e = realloc(r->e, nc * sizeof *e);
        if (!e) return;
        r->e = e;
        r->cap = nc;
    }
    rs_entry_t *x = &r->e[r->n++];
    copy_name(x->section, section);
    copy_name(x->row, row);
    copy_name(x->col, col);
    x->kind = kind;
    x->value = value;
}

void rs_report_note(rs_report_t *r, const char *section, const char *row, const char *fmt, ...)
{
    if (r->nnotes == r->notes_cap) {
        size_t nc = r->notes_cap ? r->notes_cap * 2 : 8;
        rs_note_t *n = realloc(r->notes, nc * sizeof *n);
        if (!n) return;
        r->notes = n;
        r->notes_cap = nc;
    }
    rs_note_t *x = &r->notes[r->nnotes++];
    copy_name(x->section, section);
    copy_name(x->row, row);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->text, sizeof x->text, fmt, ap);
    va_end(ap);
}

double rs_report_get(const rs_report_t *r, const char *section, const char *row, const char *col)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->e[i].section, section) && !strcmp(r->e[i].row, row) && !strcmp(r->e[i].col, col))
            return r->e[i].value;
    return NAN;
}
