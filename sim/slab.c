/* Pool blocks (slab.h): large ones on huge-page candidates. Calls nothing
 * of the engine. */
#define _DEFAULT_SOURCE
#include "slab.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *sim_slab_alloc(size_t bytes)
{
    if (bytes == 0) return NULL;
    if (bytes < HUGE_PAGE) return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    size_t n = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, n);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, n, MADV_HUGEPAGE);   /* advice only: failure changes nothing */
#endif
    return p;
}
