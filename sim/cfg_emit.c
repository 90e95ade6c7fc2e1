/* Scenario configuration tree: emission as YAML text (see cfg.h).
 *
 * Owns sim_cfg_emit and sim_cfg_emit_node: the effective scenario (after
 * overrides, or a variant's merged tree) written with libyaml's emitter,
 * block style, quoted text quoted again and plain text plain.
 * May call: libyaml. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cfg_internal.h"
#include "error.h"

/* ---- Emission ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} cfg_out_t;

static int cfg_out_write(void *data, unsigned char *bytes, size_t size)
{
    cfg_out_t *o = data;
    if (o->len + size + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + size + 1) cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb) return 0;
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, bytes, size);
    o->len += size;
    o->buf[o->len] = '\0';
    return 1;
}

static int cfg_emit_node(yaml_emitter_t *e, const sim_cfg_node_t *n)
{
    yaml_event_t ev;
    switch (n->kind) {
    case SIM_CFG_SCALAR:
        /* Plain text stays plain when the emitter allows it; text that was
         * quoted gets quotes again (quoted_implicit avoids a '!' tag). */
        if (n->len > INT_MAX ||
            !yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->text, (int)n->len,
                                          n->plain, 1,
                                          n->plain ? YAML_PLAIN_SCALAR_STYLE
                                                   : YAML_ANY_SCALAR_STYLE))
            return 0;
        return yaml_emitter_emit(e, &ev);
    case SIM_CFG_SEQ:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!cfg_emit_node(e, n->vals[i])) return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    case SIM_CFG_MAP:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!cfg_emit_node(e, n->keys[i]) || !cfg_emit_node(e, n->vals[i])) return 0;
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    return 0;
}

int sim_cfg_emit(const sim_cfg_t *cfg, char **out, size_t *len)
{
    if (!out) return SIM_EINVAL;
    *out = NULL;
    if (len) *len = 0;
    if (!cfg || !cfg->root) return SIM_EINVAL;
    yaml_emitter_t e;
    cfg_out_t o = {0};
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e)) return SIM_ENOMEM;
    yaml_emitter_set_output(&e, cfg_out_write, &o);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_emitter_set_break(&e, YAML_LN_BREAK);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&e, &ev) &&
             cfg_emit_node(&e, cfg->root) &&
             yaml_document_end_event_initialize(&ev, 1) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_emitter_flush(&e);
    int rc = ok ? 0 : (e.error == YAML_MEMORY_ERROR || e.error == YAML_WRITER_ERROR ||
                       e.error == YAML_NO_ERROR) ? SIM_ENOMEM : SIM_EINVAL;
    yaml_emitter_delete(&e);
    if (rc || !o.buf) {
        free(o.buf);
        return rc ? rc : SIM_ENOMEM;
    }
    *out = o.buf;
    if (len) *len = o.len;
    return 0;
}

int sim_cfg_emit_node(const sim_cfg_node_t *node, char **out, size_t *len)
{
    sim_cfg_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.root = (sim_cfg_node_t *)node;
    return sim_cfg_emit(&tmp, out, len);
}
