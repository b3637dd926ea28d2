#include <stdlib.h>
#include <string.h>

#include "wire_gen.h"

void wg_arena_init(wg_arena *a, size_t cap)
{
    a->buf = malloc(cap);
    assert_non_null(a->buf);
    a->cap = cap;
    a->used = 0;
}

void wg_arena_reset(wg_arena *a)
{
    a->used = 0;
}

void wg_arena_free(wg_arena *a)
{
    free(a->buf);
    a->buf = NULL;
}

static uint8_t *take(wg_arena *a, size_t n)
{
    assert_true(a->used + n <= a->cap);
    uint8_t *p = a->buf + a->used;
    a->used += n;
    return p;
}

static zhtp_wire_bytes rand_bytes(zt_rng *r, wg_arena *a, size_t min, size_t max)
{
    size_t n = min + (size_t)zt_rng_below(r, max - min + 1);
    zhtp_wire_bytes b = {NULL, n};
    if (n) {
        uint8_t *p = take(a, n);
        zt_rng_bytes(r, p, n);
        b.ptr = p;
    } else if (zt_rng_below(r, 2)) {
        b.ptr = take(a, 0); /* empty with a pointer is fine too */
    }
    return b;
}

/* A length bound: usually small, sometimes anything up to max (only when big). */
static size_t lim(zt_rng *r, size_t small, size_t max, bool big)
{
    if (big && zt_rng_below(r, 4) == 0)
        return max;
    return small < max ? small : max;
}

/* n distinct non-zero versions, strictly descending. */
static const uint8_t *rand_versions(zt_rng *r, wg_arena *a, size_t n)
{
    uint8_t *v = take(a, n);
    size_t cur = n + (size_t)zt_rng_below(r, 256 - n); /* in [n, 255] */
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint8_t)cur;
        if (i + 1 < n) {
            size_t slack = cur - n + i; /* how far we may skip and still fit the rest */
            cur = cur - 1 - (size_t)zt_rng_below(r, (slack < 3 ? slack : 3) + 1);
        }
    }
    return v;
}

static const uint8_t sealed_ok_ops[] = {
    ZHTP_WIRE_OP_QUERY,          ZHTP_WIRE_OP_QUERY_RESPONSE, ZHTP_WIRE_OP_STORE,
    ZHTP_WIRE_OP_STORE_ACK,      ZHTP_WIRE_OP_PEER_DISCOVERY, ZHTP_WIRE_OP_RELAY_QUERY,
    ZHTP_WIRE_OP_RELAY_RESPONSE, ZHTP_WIRE_OP_DATA,           ZHTP_WIRE_OP_ROUTING,
    ZHTP_WIRE_OP_RECEIPT,        ZHTP_WIRE_OP_ERROR};

void wg_header(zt_rng *r, zhtp_wire_header *h, uint8_t op)
{
    memset(h, 0, sizeof *h);
    h->version = ZHTP_WIRE_VERSION;
    h->operation = op;
    bool can_seal = memchr(sealed_ok_ops, op, sizeof sealed_ok_ops) != NULL;
    /* CLEAR_TAIL depends on payload_len, which the callers set: they add it themselves. */
    h->flags = (uint16_t)(zt_rng_u64(r) & (ZHTP_WIRE_FLAGS_KNOWN & ~ZHTP_WIRE_FLAG_SEALED &
                                           ~ZHTP_WIRE_FLAG_CLEAR_TAIL));
    if (can_seal && zt_rng_below(r, 4) != 0) {
        h->flags |= ZHTP_WIRE_FLAG_SEALED;
        switch (zt_rng_below(r, 3)) {
        case 0:
            h->receiver_index = 1 + (uint32_t)zt_rng_below(r, 255);
            break;
        case 1:
            h->receiver_index = 1 + (uint32_t)zt_rng_below(r, 65535);
            break;
        default:
            h->receiver_index = (uint32_t)zt_rng_u64(r) | 1;
        }
        h->counter = zt_rng_below(r, 2) ? zt_rng_below(r, 1000) : zt_rng_u64(r);
        h->message_id = zt_rng_below(r, 2) ? h->counter : zt_rng_u64(r);
    } else {
        h->message_id = zt_rng_u64(r);
    }
    if (zt_rng_below(r, 2)) {
        h->hop_limit = ZHTP_WIRE_DEFAULT_HOP_LIMIT;
    } else {
        h->hop_limit = (uint8_t)(1 + zt_rng_below(r, 255));
        h->hop_count = (uint8_t)zt_rng_below(r, (uint64_t)h->hop_limit + 1);
    }
    h->route_bound = zt_rng_below(r, 2) ? ZHTP_WIRE_ROUTE_BOUND_NONE : (uint32_t)zt_rng_u64(r);
    zt_rng_bytes(r, h->sender, sizeof h->sender);
    zt_rng_bytes(r, h->target, sizeof h->target);
    h->timestamp_ms = zt_rng_below(r, 2) ? 0 : zt_rng_u64(r);
}

void wg_payload(zt_rng *r, zhtp_wire_payload *p, uint8_t op, wg_arena *a, bool big)
{
    memset(p, 0, sizeof *p);
    p->operation = op;
    switch (op) {
    case ZHTP_WIRE_OP_QUERY:
    case ZHTP_WIRE_OP_QUERY_RESPONSE:
    case ZHTP_WIRE_OP_STORE:
    case ZHTP_WIRE_OP_STORE_ACK:
    case ZHTP_WIRE_OP_RELAY_QUERY:
    case ZHTP_WIRE_OP_RELAY_RESPONSE: {
        /* a DHT message's framing: a type this operation carries, flags, txid, any body */
        uint8_t type;
        do
            type = (uint8_t)(1 + zt_rng_below(r, 12));
        while (zhtp_wire_dht_op(type) != op);
        zhtp_wire_bytes m =
            rand_bytes(r, a, ZHTP_WIRE_DHT_HEADER_LEN, lim(r, 2000, ZHTP_WIRE_MAX_PAYLOAD, big));
        uint8_t *w = (uint8_t *)m.ptr;
        w[0] = type;
        w[1] = type == 5 ? (uint8_t)zt_rng_below(r, 2) : 0; /* NODES: bit 0 = locators */
        p->u.dht.msg = m;
        break;
    }
    case ZHTP_WIRE_OP_PEER_DISCOVERY: {
        zhtp_wire_peer_discovery *d = &p->u.peer_discovery;
        d->kind = (uint8_t)(1 + zt_rng_below(r, 2));
        d->capabilities = (uint32_t)zt_rng_u64(r);
        d->version_count = (uint8_t)(1 + zt_rng_below(r, ZHTP_WIRE_MAX_VERSIONS));
        d->versions = rand_versions(r, a, d->version_count);
        d->identity = rand_bytes(r, a, 0, lim(r, 1500, ZHTP_WIRE_MAX_IDENTITY, big));
        break;
    }
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE: {
        zhtp_wire_handshake *h = &p->u.handshake;
        h->sender_index = (uint32_t)zt_rng_u64(r) | 1;
        if (op == ZHTP_WIRE_OP_HANDSHAKE_RESPONSE)
            h->receiver_index = (uint32_t)zt_rng_u64(r) | 2;
        h->suite = ZHTP_WIRE_SUITE_HYBRID1;
        size_t k = op == ZHTP_WIRE_OP_HANDSHAKE_INIT ? ZHTP_WIRE_HYBRID1_KEM_PK_LEN
                                                     : ZHTP_WIRE_HYBRID1_KEM_CT_LEN;
        h->field[0] = rand_bytes(r, a, k, k);
        h->field[1] = rand_bytes(r, a, 0, lim(r, 4000, ZHTP_WIRE_MAX_IDENTITY, big));
        h->field[2] = rand_bytes(r, a, 0, ZHTP_WIRE_MAX_MAC);
        break;
    }
    case ZHTP_WIRE_OP_COOKIE_REPLY: {
        zhtp_wire_handshake *h = &p->u.handshake;
        h->receiver_index = (uint32_t)zt_rng_u64(r) | 4;
        h->field[0] = rand_bytes(r, a, 1, ZHTP_WIRE_MAX_NONCE);
        h->field[1] = rand_bytes(r, a, 1, ZHTP_WIRE_MAX_COOKIE);
        break;
    }
    case ZHTP_WIRE_OP_DATA: {
        zhtp_wire_data *d = &p->u.data;
        if (zt_rng_below(r, 2)) {
            d->subtype = ZHTP_WIRE_DATA_APP;
            d->channel = (uint16_t)zt_rng_u64(r);
            d->body = rand_bytes(r, a, 0, lim(r, 1500, ZHTP_WIRE_MAX_PAYLOAD - 4, big));
        } else {
            d->subtype = ZHTP_WIRE_DATA_IPV6;
            d->body = rand_bytes(r, a, 40, lim(r, 1500, ZHTP_WIRE_MAX_PAYLOAD - 4, big));
            ((uint8_t *)d->body.ptr)[0] = (uint8_t)(0x60 | (d->body.ptr[0] & 0x0F));
        }
        break;
    }
    case ZHTP_WIRE_OP_ROUTING: {
        zhtp_wire_routing *rt = &p->u.routing;
        rt->tlv_count = (uint8_t)(1 + zt_rng_below(r, ZHTP_WIRE_MAX_ROUTING_TLV));
        for (size_t i = 0; i < rt->tlv_count; i++) {
            rt->tlv[i].type = (uint8_t)(1 + zt_rng_below(r, 255));
            rt->tlv[i].value = rand_bytes(r, a, 0, lim(r, 100, 4000, big));
        }
        break;
    }
    case ZHTP_WIRE_OP_RECEIPT: {
        zhtp_wire_receipt *rc = &p->u.receipt;
        rc->batch_seq = zt_rng_u64(r);
        rc->entry_count = (uint16_t)(1 + zt_rng_below(r, lim(r, 20, ZHTP_WIRE_MAX_RECEIPTS, big)));
        uint8_t *e = take(a, (size_t)rc->entry_count * ZHTP_WIRE_RECEIPT_ENTRY_LEN);
        for (size_t i = 0; i < rc->entry_count; i++) {
            zhtp_wire_receipt_entry en;
            en.message_id = zt_rng_u64(r);
            zt_rng_bytes(r, en.origin, sizeof en.origin);
            en.payload_bytes = (uint32_t)zt_rng_u64(r);
            en.hop_count = (uint8_t)zt_rng_u64(r);
            zhtp_wire_receipt_entry_put(e + i * ZHTP_WIRE_RECEIPT_ENTRY_LEN, &en);
        }
        rc->entries = e;
        rc->signature = rand_bytes(r, a, 1, ZHTP_WIRE_MAX_SIGNATURE);
        break;
    }
    case ZHTP_WIRE_OP_ERROR: {
        zhtp_wire_error *e = &p->u.error;
        e->in_reply_to = zt_rng_u64(r);
        e->code = (uint16_t)(1 + zt_rng_below(r, 65535));
        if (zt_rng_below(r, 3) == 0)
            e->code = ZHTP_WIRE_ERROR_VERSION_MISMATCH;
        if (e->code == ZHTP_WIRE_ERROR_VERSION_MISMATCH) {
            e->version_count = (uint8_t)(1 + zt_rng_below(r, ZHTP_WIRE_MAX_VERSIONS));
            e->versions = rand_versions(r, a, e->version_count);
        }
        e->detail = rand_bytes(r, a, 0, ZHTP_WIRE_MAX_ERROR_DETAIL);
        break;
    }
    default:
        fail_msg("no generator for op %u", op);
    }
}

bool wg_header_equal(const zhtp_wire_header *a, const zhtp_wire_header *b)
{
    return a->version == b->version && a->operation == b->operation && a->flags == b->flags &&
           a->hop_count == b->hop_count && a->hop_limit == b->hop_limit &&
           a->route_bound == b->route_bound && a->payload_len == b->payload_len &&
           !memcmp(a->sender, b->sender, 32) && !memcmp(a->target, b->target, 32) &&
           a->message_id == b->message_id && a->timestamp_ms == b->timestamp_ms &&
           a->receiver_index == b->receiver_index && a->counter == b->counter &&
           a->clear_len == b->clear_len;
}

static bool beq(const zhtp_wire_bytes *a, const zhtp_wire_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

static bool meq(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

bool wg_payload_equal(const zhtp_wire_payload *a, const zhtp_wire_payload *b)
{
    if (a->operation != b->operation)
        return false;
    switch (a->operation) {
    case ZHTP_WIRE_OP_QUERY:
    case ZHTP_WIRE_OP_QUERY_RESPONSE:
    case ZHTP_WIRE_OP_STORE:
    case ZHTP_WIRE_OP_STORE_ACK:
    case ZHTP_WIRE_OP_RELAY_QUERY:
    case ZHTP_WIRE_OP_RELAY_RESPONSE:
        return beq(&a->u.dht.msg, &b->u.dht.msg);
    case ZHTP_WIRE_OP_PEER_DISCOVERY: {
        const zhtp_wire_peer_discovery *x = &a->u.peer_discovery, *y = &b->u.peer_discovery;
        return x->kind == y->kind && x->capabilities == y->capabilities &&
               x->version_count == y->version_count &&
               meq(x->versions, y->versions, x->version_count) && beq(&x->identity, &y->identity);
    }
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE:
    case ZHTP_WIRE_OP_COOKIE_REPLY: {
        const zhtp_wire_handshake *x = &a->u.handshake, *y = &b->u.handshake;
        bool eq = x->sender_index == y->sender_index && x->receiver_index == y->receiver_index &&
                  x->suite == y->suite;
        for (int i = 0; i < ZHTP_WIRE_HANDSHAKE_FIELDS; i++)
            eq = eq && beq(&x->field[i], &y->field[i]);
        return eq;
    }
    case ZHTP_WIRE_OP_DATA:
        return a->u.data.subtype == b->u.data.subtype && a->u.data.channel == b->u.data.channel &&
               beq(&a->u.data.body, &b->u.data.body);
    case ZHTP_WIRE_OP_ROUTING: {
        if (a->u.routing.tlv_count != b->u.routing.tlv_count)
            return false;
        for (size_t i = 0; i < a->u.routing.tlv_count; i++)
            if (a->u.routing.tlv[i].type != b->u.routing.tlv[i].type ||
                !beq(&a->u.routing.tlv[i].value, &b->u.routing.tlv[i].value))
                return false;
        return true;
    }
    case ZHTP_WIRE_OP_RECEIPT: {
        const zhtp_wire_receipt *x = &a->u.receipt, *y = &b->u.receipt;
        if (x->batch_seq != y->batch_seq || x->entry_count != y->entry_count ||
            !beq(&x->signature, &y->signature))
            return false;
        for (size_t i = 0; i < x->entry_count; i++) {
            zhtp_wire_receipt_entry ex, ey;
            zhtp_wire_receipt_entry_get(x, i, &ex);
            zhtp_wire_receipt_entry_get(y, i, &ey);
            if (ex.message_id != ey.message_id || memcmp(ex.origin, ey.origin, 32) ||
                ex.payload_bytes != ey.payload_bytes || ex.hop_count != ey.hop_count)
                return false;
        }
        return true;
    }
    case ZHTP_WIRE_OP_ERROR: {
        const zhtp_wire_error *x = &a->u.error, *y = &b->u.error;
        return x->in_reply_to == y->in_reply_to && x->code == y->code &&
               x->version_count == y->version_count &&
               meq(x->versions, y->versions, x->version_count) && beq(&x->detail, &y->detail);
    }
    }
    return false;
}

size_t wg_packet(zt_rng *r, uint8_t op, uint8_t *out, size_t cap, wg_arena *a, bool big)
{
    zhtp_wire_header h;
    zhtp_wire_payload p;
    wg_header(r, &h, op);
    wg_payload(r, &p, op, a, big);
    assert_true(cap >= ZHTP_WIRE_HEADER_LEN);
    zhtp_ssize n = zhtp_wire_payload_encode(out + ZHTP_WIRE_HEADER_LEN,
                                            cap - ZHTP_WIRE_HEADER_LEN - ZHTP_WIRE_TAG_LEN, &p);
    assert_true(n >= 0);
    h.payload_len = (uint32_t)n;
    assert_int_equal(zhtp_wire_header_encode(out, cap, &h), ZHTP_WIRE_HEADER_LEN);
    size_t total = zhtp_wire_packet_len(&h);
    if (h.flags & ZHTP_WIRE_FLAG_SEALED)
        zt_rng_bytes(r, out + total - ZHTP_WIRE_TAG_LEN, ZHTP_WIRE_TAG_LEN);
    return total;
}
