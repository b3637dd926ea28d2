/* The link layer's clear tail (docs/protocol.md 3.2, docs/sessions.md §5.1) seen from three
 * node cores in a line a - b - c: end-to-end DATA crosses each UDP-profile link with
 * CLEAR_TAIL (the inner packet after its header left as it is), a narrow link carries it fully
 * sealed under a compressed header, and a byte of the tail changed on the way passes the link
 * layer but is dropped and counted by the destination's end-to-end open. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zhtp/identity.h"
#include "zhtp/node.h"
#include "zhtp/wire.h"

#define SEC    ZHTP_NS_PER_SEC
#define N      3
#define IP6LEN 120
/* The inner packet minus its header: DATA sub-header, the IPv6 packet, the inner tag. */
#define TAIL_LEN (ZHTP_WIRE_DATA_HEADER_LEN + IP6LEN + ZHTP_WIRE_TAG_LEN)

typedef struct mem_count {
    zhtp_mem mem;
    size_t bytes;
} mem_count;

static void *m_alloc(void *ud, size_t size)
{
    ((mem_count *)ud)->bytes += size;
    return malloc(size);
}

static void m_free(void *ud, void *p, size_t size)
{
    if (p) {
        ((mem_count *)ud)->bytes -= size;
        free(p);
    }
}

/* What went over one direction of one link. */
typedef struct dir_stats {
    uint64_t full_data;     /* full frames (not fragments) of operation DATA */
    uint64_t tail_data;     /* ... of which with CLEAR_TAIL */
    uint64_t bad_clear_len; /* ... whose clear_len is not TAIL_LEN */
    uint64_t compressed;    /* frames with a compressed header */
    uint64_t tampered;      /* frames this harness changed */
} dir_stats;

typedef struct line {
    struct node_slot {
        mem_count mem;
        zt_rng rng;
        zhtp_identity *id;
        zhtp_node *node;
        zhtp_addr addr;
        struct line *line;
    } n[N];
    dir_stats fwd[N - 1]; /* frames from node i to node i + 1 */
    bool tamper;          /* flip one byte of the next a -> b tail (not in its last 16) */
} line;

static void slot_rng(void *ud, uint8_t *out, size_t len)
{
    zt_rng_bytes(&((struct node_slot *)ud)->rng, out, len);
}

/* Oracle lookup: the coordinates of any node of the line, read off its router. */
static int slot_lookup(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], uint16_t *ports, size_t cap,
                       size_t *depth)
{
    const line *l = ((struct node_slot *)ud)->line;
    for (size_t i = 0; i < N; i++) {
        if (memcmp(zhtp_node_id(l->n[i].node), id, ZHTP_NODE_ID_LEN) != 0)
            continue;
        size_t d;
        const uint16_t *co = zhtp_router_coords(zhtp_node_router(l->n[i].node), &d);
        if (d > cap)
            return ZHTP_ERR_NOBUF;
        if (d)
            memcpy(ports, co, d * sizeof *ports);
        *depth = d;
        return ZHTP_OK;
    }
    return ZHTP_ERR_NOTFOUND;
}

/* |bc_mtu|: MTU of the b - c link (0: the UDP preset's 1280; below 1280 the link is narrow). */
static void line_new(line *l, uint32_t bc_mtu)
{
    memset(l, 0, sizeof *l);
    const zhtp_route_medium *m = zhtp_route_medium_preset(ZHTP_MEDIUM_UDP);
    for (size_t i = 0; i < N; i++) {
        struct node_slot *s = &l->n[i];
        s->line = l;
        s->mem.mem = (zhtp_mem){m_alloc, m_free, &s->mem};
        zt_rng_seed(&s->rng, 40 + i);
        uint8_t seed[ZHTP_IDENTITY_SEEDBYTES];
        memset(seed, (int)(0x60 + i), sizeof seed);
        assert_int_equal(zhtp_identity_from_seed(&s->id, seed), ZHTP_OK);
        s->addr.len = 1;
        s->addr.bytes[0] = (uint8_t)(i + 1);
        zhtp_node_config c = {
            .mem = &s->mem.mem, .rng = slot_rng, .user_data = s, .lookup = slot_lookup};
        assert_int_equal(zhtp_node_new(&s->node, &c, s->id, 0), ZHTP_OK);
        /* link 1 towards i - 1, link 2 towards i + 1 */
        if (i > 0)
            assert_int_equal(zhtp_node_link_add(s->node, 1, i == 2 ? bc_mtu : 0, m, 0), ZHTP_OK);
        if (i + 1 < N)
            assert_int_equal(zhtp_node_link_add(s->node, 2, i == 1 ? bc_mtu : 0, m, 0), ZHTP_OK);
    }
}

static void line_free(line *l)
{
    for (size_t i = 0; i < N; i++) {
        zhtp_node_free(l->n[i].node);
        assert_int_equal(l->n[i].mem.bytes, 0);
        zhtp_identity_free(l->n[i].id);
    }
}

static void inspect(line *l, size_t from, size_t to, uint8_t *buf, size_t len)
{
    if (to != from + 1)
        return;
    dir_stats *d = &l->fwd[from];
    enum zhtp_wire_frame_kind k = zhtp_wire_frame_kind(buf, len);
    if (k == ZHTP_WIRE_FRAME_COMPRESSED)
        d->compressed++;
    zhtp_wire_header h;
    if (k != ZHTP_WIRE_FRAME_FULL || zhtp_wire_header_decode(&h, buf, len) != ZHTP_OK ||
        h.operation != ZHTP_WIRE_OP_DATA)
        return;
    d->full_data++;
    if (!(h.flags & ZHTP_WIRE_FLAG_CLEAR_TAIL))
        return;
    d->tail_data++;
    if (h.clear_len != TAIL_LEN)
        d->bad_clear_len++;
    if (from == 0 && l->tamper && len == zhtp_wire_packet_len(&h)) {
        /* A byte of the inner ciphertext: outside everything the link tag covers. */
        buf[ZHTP_WIRE_HEADER_LEN + h.payload_len - h.clear_len + 3] ^= 0x01;
        l->tamper = false;
        d->tampered++;
    }
}

static void line_shuttle(line *l, zhtp_time now)
{
    uint8_t buf[ZHTP_WIRE_MAX_MTU];
    for (int moved = 1; moved;) {
        moved = 0;
        for (size_t i = 0; i < N; i++) {
            zhtp_link_id lk;
            zhtp_addr dst;
            zhtp_ssize len;
            while ((len = zhtp_node_next_datagram(l->n[i].node, &lk, &dst, buf, sizeof buf, now)) >=
                   0) {
                size_t j = lk == 1 ? i - 1 : i + 1;
                assert_true(j < N);
                inspect(l, i, j, buf, (size_t)len);
                (void)zhtp_node_recv(l->n[j].node, lk == 1 ? 2 : 1, &l->n[i].addr, buf, (size_t)len,
                                     now);
                moved = 1;
            }
        }
    }
}

static void line_run(line *l, zhtp_time t0, zhtp_time t1)
{
    for (zhtp_time t = t0; t <= t1; t += SEC / 10) {
        for (size_t i = 0; i < N; i++)
            assert_int_equal(zhtp_node_tick(l->n[i].node, t), ZHTP_OK);
        line_shuttle(l, t);
    }
}

static void ip6_packet(uint8_t *p, uint8_t seed)
{
    for (size_t i = 0; i < IP6LEN; i++)
        p[i] = (uint8_t)(seed + i * 5);
    p[0] = 0x60;
}

/* Sends one IPv6 packet a -> c at |t| and runs the line for half a second: how many c got
 * (each checked byte for byte). */
static int send_ip6(line *l, zhtp_time t, uint8_t seed)
{
    uint8_t pkt[IP6LEN];
    ip6_packet(pkt, seed);
    zhtp_node *a = l->n[0].node, *c = l->n[2].node;
    assert_int_equal(
        zhtp_node_send(a, zhtp_node_id(c), pkt, sizeof pkt, ZHTP_NODE_SEND_IP6, t, NULL), ZHTP_OK);
    line_run(l, t, t + SEC / 2);
    int got = 0;
    zhtp_node_event ev;
    while (zhtp_node_next_event(c, &ev) == ZHTP_OK) {
        if (ev.type != ZHTP_NODE_EV_IP6)
            continue;
        assert_int_equal(ev.len, sizeof pkt);
        assert_memory_equal(ev.data, pkt, sizeof pkt);
        got++;
    }
    return got;
}

/* Up, with the end-to-end session a - c established (the first packet waits for it). */
static void line_up(line *l)
{
    line_run(l, 0, 4 * SEC);
    assert_int_equal(send_ip6(l, 5 * SEC, 1), 1);
    memset(l->fwd, 0, sizeof l->fwd);
}

static void relays_leave_the_end_to_end_tail_clear_on_udp_links(void **state)
{
    (void)state;
    line l;
    line_new(&l, 0);
    line_up(&l);
    for (int k = 0; k < 5; k++)
        assert_int_equal(send_ip6(&l, (6 + k) * SEC, (uint8_t)(10 + k)), 1);
    /* Every DATA frame of this traffic on both hops carried the inner packet as a clear tail
     * of exactly its size after the header (the origin's and the relay's fresh seal). */
    for (size_t d = 0; d < 2; d++) {
        assert_true(l.fwd[d].tail_data >= 5);
        assert_int_equal(l.fwd[d].bad_clear_len, 0);
        assert_int_equal(l.fwd[d].compressed, 0);
    }
    /* The IPv6 packets were the only DATA a -> c carried after set-up (keepalives are DATA
     * too, but carry nothing to leave clear). */
    zhtp_node_stats sb;
    zhtp_node_get_stats(l.n[1].node, &sb);
    assert_true(sb.fwd_packets >= 6);
    /* Data to a neighbour is sealed by the link session only: no inner packet, no tail. */
    uint64_t tail0 = l.fwd[0].tail_data, full0 = l.fwd[0].full_data;
    const uint8_t msg[] = "to my neighbour";
    assert_int_equal(zhtp_node_send(l.n[0].node, zhtp_node_id(l.n[1].node), msg, sizeof msg,
                                    ZHTP_NODE_SEND_RELIABLE, 12 * SEC, NULL),
                     ZHTP_OK);
    line_run(&l, 12 * SEC, 12 * SEC + SEC / 2);
    assert_true(l.fwd[0].full_data > full0);
    assert_int_equal(l.fwd[0].tail_data, tail0);
    line_free(&l);
}

static void narrow_link_keeps_the_full_seal(void **state)
{
    (void)state;
    line l;
    line_new(&l, 600); /* b - c: below 1280, so narrow: compressed headers */
    line_up(&l);
    zhtp_node_stats b0, b1;
    zhtp_node_get_stats(l.n[1].node, &b0);
    for (int k = 0; k < 3; k++)
        assert_int_equal(send_ip6(&l, (6 + k) * SEC, (uint8_t)(20 + k)), 1);
    zhtp_node_get_stats(l.n[1].node, &b1);
    assert_true(l.fwd[0].tail_data >= 3);    /* a -> b: UDP profile */
    assert_int_equal(l.fwd[1].full_data, 0); /* b -> c: nothing in a full header ... */
    assert_int_equal(l.fwd[1].tail_data, 0);
    assert_true(l.fwd[1].compressed >= 3); /* ... compressed, so sealed whole */
    assert_true(b1.data_tx_compressed - b0.data_tx_compressed >= 3);
    line_free(&l);
}

static void tampered_tail_passes_the_relay_and_is_dropped_at_the_destination(void **state)
{
    (void)state;
    line l;
    line_new(&l, 0);
    line_up(&l);
    zhtp_node_stats b0, c0, b1, c1;
    zhtp_node_get_stats(l.n[1].node, &b0);
    zhtp_node_get_stats(l.n[2].node, &c0);
    l.tamper = true;
    assert_int_equal(send_ip6(&l, 6 * SEC, 30), 0);
    assert_int_equal(l.fwd[0].tampered, 1);
    zhtp_node_get_stats(l.n[1].node, &b1);
    zhtp_node_get_stats(l.n[2].node, &c1);
    /* The relay's link open cannot see the change: it forwarded the packet. */
    assert_int_equal(b1.rx_bad, b0.rx_bad);
    assert_int_equal(b1.fwd_packets, b0.fwd_packets + 1);
    /* The destination's end-to-end open did: dropped and counted, nothing delivered. */
    assert_int_equal(c1.rx_bad, c0.rx_bad + 1);
    assert_int_equal(c1.ip6_rx, c0.ip6_rx);
    /* The failed open consumed nothing: the next packet goes through. */
    assert_int_equal(send_ip6(&l, 7 * SEC, 31), 1);
    line_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relays_leave_the_end_to_end_tail_clear_on_udp_links),
        cmocka_unit_test(narrow_link_keeps_the_full_seal),
        cmocka_unit_test(tampered_tail_passes_the_relay_and_is_dropped_at_the_destination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
