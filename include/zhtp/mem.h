/* The allocator the sans-I/O core uses. Every handle of core/ and wire/ allocates only through
 * one of these, so the simulator can count bytes per node and tests can fail the Nth
 * allocation. NULL config pointers mean the default (malloc/free). */
#ifndef ZHTP_MEM_H
#define ZHTP_MEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zhtp_mem {
    /* Returns NULL on failure. size > 0. */
    void *(*alloc)(void *user_data, size_t size);
    /* p may be NULL (no-op); size is the size given to alloc. */
    void (*free)(void *user_data, void *p, size_t size);
    void *user_data;
} zhtp_mem;

/* The default allocator (malloc/free). */
const zhtp_mem *zhtp_mem_default(void);

static inline void *zhtp_mem_alloc(const zhtp_mem *m, size_t size)
{
    if (!m)
        m = zhtp_mem_default();
    return m->alloc(m->user_data, size);
}

static inline void zhtp_mem_free(const zhtp_mem *m, void *p, size_t size)
{
    if (!m)
        m = zhtp_mem_default();
    m->free(m->user_data, p, size);
}

#ifdef __cplusplus
}
#endif
#endif
