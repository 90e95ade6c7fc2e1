/* Faults of the RAG model: the fault kinds' names (parsed in spec.c),
 * their scheduling at the start and end of each fault, and what each kind
 * does while it acts (apply_fault: slow or throttle a component or the
 * gateway, make its calls fail, lose packets on an edge, kill replicas,
 * pollute prompts, mismatch chunks, cut the gateway off etcd). May call
 * the components, the gateway and the engine's event log. */
#include "models/rag/rag.h"

#include <stdio.h>

#include "models/rag/rag_internal.h"

const char *const rag_fault_names[] = {
    "slowdown", "errors", "packet_loss", "cpu_throttle", "kill", "metadata_pollution", "chunking_mismatch",
    "partition", NULL,
};

static void apply_fault(rag_t *rag, const rag_fault_t *f, bool start)
{
    sim_t *sim = rag->sim;
    int t = f->target;
    const comp_ops_t *ops = t >= 0 ? rag->ops[t] : NULL;
    void *comp = t >= 0 ? rag->comp[t] : NULL;
    char detail[160] = "";
    switch (f->kind) {
    case FAULT_SLOWDOWN:
        snprintf(detail, sizeof detail, "latency x %g", f->factor);
        if (t == RAG_GATEWAY) rag->gw.speed = start ? 1 / f->factor : 1;
        else if (ops->set_speed) ops->set_speed(comp, start ? 1 / f->factor : 1);
        break;
    case FAULT_CPU_THROTTLE:
        snprintf(detail, sizeof detail, "capacity x %g", f->factor);
        if (t == RAG_GATEWAY) rag->gw.speed = start ? f->factor : 1;
        else if (ops->set_speed) ops->set_speed(comp, start ? f->factor : 1);
        break;
    case FAULT_ERRORS:
        snprintf(detail, sizeof detail, "%g of calls fail", f->ratio);
        if (t >= 0 && ops->set_error_ratio) ops->set_error_ratio(comp, start ? f->ratio : 0);
        break;
    case FAULT_PACKET_LOSS:
        snprintf(detail, sizeof detail, "%g packet loss on gateway -> %s (rto %g s, %lld retransmissions)", f->ratio,
                 f->target_name, sim_time_to_s(f->rto), (long long)f->max_retransmits);
        rag->loss[t] = start ? f->ratio : 0;
        rag->loss_rto[t] = f->rto;
        rag->loss_max[t] = f->max_retransmits;
        break;
    case FAULT_KILL:
        if (f->replica >= 0) snprintf(detail, sizeof detail, "replica %d killed", f->replica);
        else snprintf(detail, sizeof detail, "all replicas killed");
        break;
    case FAULT_METADATA_POLLUTION:
        snprintf(detail, sizeof detail, "prompt tokens x %g", f->factor);
        rag->pollution = start ? f->factor : 1;
        break;
    case FAULT_CHUNKING_MISMATCH:
        snprintf(detail, sizeof detail, "%g of retrievals return unrelated chunks", f->ratio);
        vdb_set_irrelevant_ratio(rag->comp[RAG_VECTORDB], start ? f->ratio : 0);
        break;
    case FAULT_PARTITION:
        /* etcd heals by itself at the end (etcd_partition schedules it) */
        snprintf(detail, sizeof detail, "gateway clients cut off etcd for %g s", sim_time_to_s(f->dur));
        break;
    default:
        break;
    }
    char kind[48];
    snprintf(kind, sizeof kind, "fault_%s", start ? "start" : "end");
    char full[200];
    snprintf(full, sizeof full, "%s: %s", rag_fault_names[f->kind], detail);
    sim_log_event(sim, kind, f->target_name, f->kind == FAULT_KILL ? f->replica : (double)f->kind, full);
    if (f->kind == FAULT_PARTITION && start) etcd_partition(rag->gw.etcd, f->dur);
    if (f->kind == FAULT_KILL && start) {
        if (t == RAG_GATEWAY) {
            for (int64_t i = 0; i < rag->spec->gw.slots; i++)
                if (f->replica < 0 || f->replica == i) gw_crash(&rag->gw, (int)i, "replica_killed", "killed by a fault");
        } else if (ops->kill) {
            ops->kill(comp, f->replica);
        }
    }
}

static void fault_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_t *rag = obj;
    size_t i = (size_t)(arg >> 1);
    apply_fault(rag, &rag->spec->faults[i], (arg & 1) == 0);
}

void rag_faults_schedule(rag_t *rag)
{
    sim_t *sim = rag->sim;
    const rag_spec_t *spec = rag->spec;
    for (size_t i = 0; i < spec->nfaults; i++) {
        const rag_fault_t *f = &spec->faults[i];
        sim_schedule_at(sim, f->at, fault_event, rag, (uint64_t)i << 1);
        if (f->dur > 0) sim_schedule_at(sim, f->at + f->dur, fault_event, rag, ((uint64_t)i << 1) | 1);
    }
}
