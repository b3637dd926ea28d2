#include <stdlib.h>

#include "zhtp/mem.h"

static void *default_alloc(void *ud, size_t size)
{
    (void)ud;
    return malloc(size);
}

static void default_free(void *ud, void *p, size_t size)
{
    (void)ud;
    (void)size;
    free(p);
}

static const zhtp_mem default_mem = {default_alloc, default_free, NULL};

const zhtp_mem *zhtp_mem_default(void)
{
    return &default_mem;
}
