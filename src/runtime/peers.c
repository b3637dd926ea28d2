/* zhtpd's peer memory in the store's peer cache (peers.h). */
#include "peers.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint8_t id[ZHTP_NODE_ID_LEN];
    zhtp_addr addr;
    uint64_t seen;
} entry;

typedef struct walk {
    entry *e;
    size_t n;
    uint8_t (*old)[ZHTP_NODE_ID_LEN];
    size_t n_old;
    uint64_t now;
} walk;

int zhtp_rt_peers_save_addr(zhtp_store *s, const uint8_t id[ZHTP_NODE_ID_LEN],
                            const zhtp_addr *addr, uint64_t now_unix_s)
{
    if (s == NULL || addr == NULL || addr->len == 0)
        return ZHTP_ERR_INVAL;
    return zhtp_store_peer_put(s, id, addr, now_unix_s);
}

size_t zhtp_rt_peers_save_ids(zhtp_store *s, const uint8_t (*ids)[ZHTP_NODE_ID_LEN], size_t n,
                              uint64_t now_unix_s)
{
    size_t written = 0;
    for (size_t i = 0; s != NULL && i < n; i++) {
        zhtp_addr have;
        if (zhtp_store_peer_get(s, ids[i], &have, NULL) == ZHTP_OK && have.len > 0)
            continue; /* an address is worth more than a bare id */
        zhtp_addr none = {0};
        if (zhtp_store_peer_put(s, ids[i], &none, now_unix_s) == ZHTP_OK)
            written++;
    }
    return written;
}

static int collect(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], const zhtp_addr *addr,
                   uint64_t seen)
{
    walk *w = ud;
    /* Seen in the future (clock stepped back) counts as now; long silent is forgotten. */
    if (seen + ZHTP_RT_PEERS_MAX_AGE_S < w->now) {
        if (w->n_old < ZHTP_RT_PEERS_LOAD_MAX)
            memcpy(w->old[w->n_old++], id, ZHTP_NODE_ID_LEN);
        return 0;
    }
    if (w->n >= ZHTP_RT_PEERS_LOAD_MAX)
        return 0;
    entry *e = &w->e[w->n++];
    memcpy(e->id, id, ZHTP_NODE_ID_LEN);
    e->addr = *addr;
    e->seen = seen;
    return 0;
}

static int newest_first(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->seen < y->seen ? 1 : x->seen > y->seen ? -1 : 0;
}

zhtp_ssize zhtp_rt_peers_load(zhtp_store *s, uint64_t now_unix_s, zhtp_rt_peers_addr_fn addr_fn,
                              zhtp_rt_peers_id_fn id_fn, void *user_data)
{
    if (s == NULL)
        return ZHTP_ERR_INVAL;
    walk w = {.now = now_unix_s};
    w.e = calloc(ZHTP_RT_PEERS_LOAD_MAX, sizeof *w.e);
    w.old = calloc(ZHTP_RT_PEERS_LOAD_MAX, sizeof *w.old);
    if (w.e == NULL || w.old == NULL) {
        free(w.e);
        free(w.old);
        return ZHTP_ERR_NOMEM;
    }
    int rc = zhtp_store_peer_foreach(s, collect, &w);
    /* Deleted after the walk: the callback may not call back into the store. */
    for (size_t i = 0; rc == ZHTP_OK && i < w.n_old; i++)
        (void)zhtp_store_peer_delete(s, w.old[i]);
    if (rc == ZHTP_OK) {
        qsort(w.e, w.n, sizeof *w.e, newest_first);
        size_t with_addr = 0;
        for (size_t i = 0; i < w.n; i++) {
            if (w.e[i].addr.len > 0 && with_addr < ZHTP_RT_PEERS_REJOIN_MAX && addr_fn != NULL) {
                addr_fn(user_data, w.e[i].id, &w.e[i].addr);
                with_addr++;
            }
            if (id_fn != NULL)
                id_fn(user_data, w.e[i].id);
        }
    }
    free(w.e);
    free(w.old);
    return rc == ZHTP_OK ? (zhtp_ssize)w.n : rc;
}
