/* hold.c: the hold model on a plain binary min-heap, the baseline that
 * `ragsim bench hold` is measured against (bench/bench.sh, docs/internals/performance.md).
 *
 *   cc -O2 -march=native hold.c -o /tmp/hold -lm && /tmp/hold PENDING HOLDS
 *
 * The hold model (Vaucher and Duval 1975; Jones 1986): PENDING items wait in
 * the event set; a hold removes the earliest item (time t) and inserts one at
 * t + Exp(mean 1 ms), so the set keeps its size. The items are 24 bytes,
 * (int64 time in ns, uint64 insertion number, pointer), in one array kept as a
 * binary heap; equal times leave in insertion order. The pointer is carried
 * along and never followed: this is the event set alone, with no event body
 * to touch. The timing covers HOLDS holds (one pop and one push each) after
 * the PENDING initial insertions; the output line is
 *
 *   pending=N holds=H ns_per_hold=X holds_per_s=YM last_time_ns=T
 *
 * Deterministic: the increments come from a fixed-seed splitmix64 stream. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    int64_t time; /* ns */
    uint64_t seq; /* insertion number: breaks ties, first in first out */
    void *ev;     /* the event: carried, never dereferenced */
} entry_t;

typedef struct {
    entry_t *a;
    size_t len;
} heap_t;

/* a before b: earlier time, then lower insertion number. (Written as one
 * expression: an if/return form of the same test came out of GCC 12 at -O2
 * 2-3x slower at 1e6 pending, and a baseline should be the good plain heap.) */
static inline int before(const entry_t *a, const entry_t *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

/* Insert: move parents down into the hole until e fits. */
static inline void heap_push(heap_t *h, entry_t e)
{
    size_t hole = h->len++;
    while (hole > 0) {
        size_t up = (hole - 1) >> 1;
        if (!before(&e, &h->a[up])) break;
        h->a[hole] = h->a[up];
        hole = up;
    }
    h->a[hole] = e;
}

/* Remove the root: the last entry sifts down from the root's hole. */
static inline entry_t heap_pop(heap_t *h)
{
    entry_t top = h->a[0];
    entry_t last = h->a[--h->len];
    size_t n = h->len, hole = 0;
    for (;;) {
        size_t kid = 2 * hole + 1;
        if (kid >= n) break;
        if (kid + 1 < n && before(&h->a[kid + 1], &h->a[kid])) kid++;
        if (!before(&h->a[kid], &last)) break;
        h->a[hole] = h->a[kid];
        hole = kid;
    }
    if (n > 0) h->a[hole] = last;
    return top;
}

/* splitmix64 (Steele, Lea and Flood 2014): small, fast, and good enough here */
static uint64_t rng_state = UINT64_C(0x243f6a8885a308d3); /* pi's fraction */

static inline uint64_t splitmix64(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Exp(mean 1 ms) in whole ns: u uniform in (0, 1], -ln(u) * 1e6, rounded */
static inline int64_t increment_ns(void)
{
    double u = (double)((splitmix64() >> 11) + 1) * 0x1.0p-53;
    return (int64_t)(-log(u) * 1e6 + 0.5);
}

static int parse_count(const char *s, size_t *v)
{
    char *end;
    unsigned long long x;
    if (*s < '0' || *s > '9') return -1;
    x = strtoull(s, &end, 10);
    if (*end != 0 || x == 0 || x > (unsigned long long)(SIZE_MAX / sizeof(entry_t) - 1)) return -1;
    *v = (size_t)x;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t pending, holds;
    if (argc != 3 || parse_count(argv[1], &pending) || parse_count(argv[2], &holds)) {
        fprintf(stderr, "usage: %s PENDING HOLDS   (both positive integers)\n", argv[0]);
        return 2;
    }

    static char token; /* what every entry points at */
    heap_t h = {malloc(sizeof(entry_t) * (pending + 1)), 0};
    if (h.a == NULL) {
        fprintf(stderr, "hold: out of memory for %zu entries\n", pending);
        return 1;
    }
    uint64_t seq = 0;
    for (size_t i = 0; i < pending; i++) heap_push(&h, (entry_t){increment_ns(), seq++, &token});

    int64_t now = 0;
    uint64_t out_of_order = 0; /* must stay 0: a popped time earlier than the previous one */
    double t0 = now_s();
    for (size_t i = 0; i < holds; i++) {
        entry_t e = heap_pop(&h);
        out_of_order += (uint64_t)(e.time < now);
        now = e.time;
        e.time = now + increment_ns();
        e.seq = seq++;
        heap_push(&h, e);
    }
    double dt = now_s() - t0;

    if (out_of_order != 0 || h.len != pending) {
        fprintf(stderr, "hold: error: %" PRIu64 " entries left out of order, %zu pending\n", out_of_order, h.len);
        return 1;
    }
    printf("pending=%zu holds=%zu ns_per_hold=%.1f holds_per_s=%.2fM last_time_ns=%" PRId64 "\n", pending, holds,
           dt * 1e9 / (double)holds, (double)holds / dt / 1e6, now);
    free(h.a);
    return 0;
}
