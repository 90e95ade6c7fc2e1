/* Memory for object pools (events, requests, calls): large blocks that hold
 * thousands of small records, each touched at random as the run goes.
 *
 * A block of 2 MiB or more is aligned to 2 MiB and advised to the kernel as
 * a candidate for transparent huge pages (Linux madvise(MADV_HUGEPAGE); a
 * no-op elsewhere, or where the kernel's THP setting is "never"). A run
 * touches its pools at random across tens of megabytes, so with 4 KiB pages
 * most such touches also miss the TLB; with 2 MiB pages they do not. Smaller
 * blocks are aligned to a cache line. Free with free(). */
#ifndef SIM_SLAB_H
#define SIM_SLAB_H

#include <stddef.h>

/* `bytes` (> 0) of uninitialised memory, or NULL. */
void *sim_slab_alloc(size_t bytes);

#endif
