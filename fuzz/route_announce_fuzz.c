/* libFuzzer target: the routing announcement decoder, and a router fed the same bytes.
 * Whatever the decoder accepts must re-encode to the identical bytes; a router must take any
 * input without crashing, and when it accepts it, still produce well-formed announcements. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fixed_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    memset(out, 0x42, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint16_t ports[ZHTP_ROUTE_MAX_DEPTH];
    static uint32_t tags[ZHTP_ROUTE_MAX_DEPTH];
    static uint8_t re[ZHTP_ROUTE_ANNOUNCE_LEN(ZHTP_ROUTE_MAX_DEPTH)];
    zhtp_route_announce a = {.ports = ports, .tags = tags};
    if (zhtp_route_announce_decode(data, size, &a, ZHTP_ROUTE_MAX_DEPTH) == ZHTP_OK) {
        zhtp_ssize n = zhtp_route_announce_encode(&a, re, sizeof re);
        if (n != (zhtp_ssize)size || memcmp(re, data, size) != 0)
            abort();
    }
    uint8_t self[ZHTP_NODE_ID_LEN], peer[ZHTP_NODE_ID_LEN];
    memset(self, 0x80, sizeof self);
    memset(peer, 0x90, sizeof peer);
    zhtp_router_config cfg = {.rng = fixed_rng};
    zhtp_router *r;
    if (zhtp_router_new(&r, &cfg, self, 0) != ZHTP_OK)
        return 0;
    if (zhtp_router_link_up(r, 1, peer, zhtp_route_medium_preset(ZHTP_MEDIUM_UDP), 0) == ZHTP_OK &&
        zhtp_router_recv(r, 1, data, size, 1) == ZHTP_OK) {
        zhtp_route_link_id l;
        zhtp_ssize n;
        while ((n = zhtp_router_next_message(r, &l, re, sizeof re, 2)) > 0) {
            zhtp_route_announce b = {.ports = ports, .tags = tags};
            if (zhtp_route_announce_decode(re, (size_t)n, &b, ZHTP_ROUTE_MAX_DEPTH) != ZHTP_OK)
                abort();
        }
        zhtp_route_hop hop;
        (void)zhtp_router_next_hop(r, a.ports, 0, NULL, NULL, &hop);
        (void)zhtp_router_tick(r, 100 * ZHTP_NS_PER_SEC);
    }
    zhtp_router_free(r);
    return 0;
}
