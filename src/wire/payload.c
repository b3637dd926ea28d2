/* Payload codecs, one layout per operation (docs/protocol.md "Payloads").
 *
 * Each operation has three pieces: check (the rules on the struct, shared by encode and
 * decode so nothing can be encoded that would not decode), put (size and write) and get
 * (parse with a bounds-checked reader). Decoding parses into the struct, then checks it. */
#include <string.h>

#include "zhtp/wire.h"
#include "wire/bytes.h"

/* A writer that only counts when out is NULL, so one routine gives both size and bytes. */
typedef struct wr {
    uint8_t *p;
    size_t n;
} wr;

static void w_bytes(wr *w, const void *src, size_t len)
{
    if (w->p && len)
        memcpy(w->p + w->n, src, len);
    w->n += len;
}

static void w_u8(wr *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w_u16(wr *w, uint16_t v)
{
    uint8_t b[2];
    put_u16(b, v);
    w_bytes(w, b, 2);
}

static void w_u32(wr *w, uint32_t v)
{
    uint8_t b[4];
    put_u32(b, v);
    w_bytes(w, b, 4);
}

static void w_u64(wr *w, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    w_bytes(w, b, 8);
}

static void w_zero(wr *w, size_t n)
{
    static const uint8_t z[8];
    w_bytes(w, z, n);
}

/* A byte range the caller gave us: a NULL pointer is allowed only for an empty range. */
static bool bytes_ok(const zhtp_wire_bytes *b)
{
    return b->ptr || b->len == 0;
}

/* Version lists are strictly descending and non-zero, which also makes them duplicate-free
 * and gives the preference order for free. */
static int check_versions(const uint8_t *v, size_t n)
{
    if (n && !v)
        return ZHTP_ERR_INVAL;
    for (size_t i = 0; i < n; i++)
        if (v[i] == 0 || (i && v[i] >= v[i - 1]))
            return ZHTP_ERR_WIRE_FIELD;
    return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ---- QUERY .. STORE_ACK, RELAY_QUERY, RELAY_RESPONSE: one DHT message (docs/protocol.md
 * 6.1-6.7). Framing only: type u8 | flags u8 | txid u64 | body; the DHT's codec checks the
 * body. ---- */

uint8_t zhtp_wire_dht_op(uint8_t type)
{
    /* PING, FIND_NODE, FIND_VALUE -> QUERY; PONG, NODES, VALUE -> QUERY_RESPONSE; STORE;
     * STORE_ACK; RELAY_GET, RELAY_FETCH -> RELAY_QUERY; SEALED, RELAY_RESULT ->
     * RELAY_RESPONSE. */
    static const uint8_t ops[13] = {0,
                                    ZHTP_WIRE_OP_QUERY,
                                    ZHTP_WIRE_OP_QUERY_RESPONSE,
                                    ZHTP_WIRE_OP_QUERY,
                                    ZHTP_WIRE_OP_QUERY,
                                    ZHTP_WIRE_OP_QUERY_RESPONSE,
                                    ZHTP_WIRE_OP_QUERY_RESPONSE,
                                    ZHTP_WIRE_OP_STORE,
                                    ZHTP_WIRE_OP_STORE_ACK,
                                    ZHTP_WIRE_OP_RELAY_QUERY,
                                    ZHTP_WIRE_OP_RELAY_QUERY,
                                    ZHTP_WIRE_OP_RELAY_RESPONSE,
                                    ZHTP_WIRE_OP_RELAY_RESPONSE};
    return type < sizeof ops ? ops[type] : 0;
}

#define DHT_TYPE_NODES     5
#define DHT_FLAG_LOCATORS_ 0x01

static int check_dht(uint8_t op, const zhtp_wire_dht *d)
{
    if (!bytes_ok(&d->msg))
        return ZHTP_ERR_INVAL;
    if (d->msg.len < ZHTP_WIRE_DHT_HEADER_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (zhtp_wire_dht_op(d->msg.ptr[0]) != op)
        return ZHTP_ERR_WIRE_FIELD;
    uint8_t allowed = d->msg.ptr[0] == DHT_TYPE_NODES ? DHT_FLAG_LOCATORS_ : 0;
    if (d->msg.ptr[1] & ~allowed)
        return ZHTP_ERR_WIRE_RESERVED;
    return 0;
}

static int get_dht(rd *r, zhtp_wire_dht *d)
{
    d->msg.len = r->left;
    d->msg.ptr = rd_take(r, r->left);
    return 0;
}

/* ---- PEER_DISCOVERY: kind u8 | version_count u8 | identity_len u16 | capabilities u32 |
 *      versions[version_count] | identity[identity_len] ---- */

static int check_peer_discovery(const zhtp_wire_peer_discovery *d)
{
    if (!bytes_ok(&d->identity))
        return ZHTP_ERR_INVAL;
    if (d->version_count == 0 || d->version_count > ZHTP_WIRE_MAX_VERSIONS ||
        d->identity.len > ZHTP_WIRE_MAX_IDENTITY)
        return ZHTP_ERR_WIRE_LENGTH;
    if (d->kind != ZHTP_WIRE_DISCOVERY_BEACON && d->kind != ZHTP_WIRE_DISCOVERY_SOLICIT)
        return ZHTP_ERR_WIRE_FIELD;
    return check_versions(d->versions, d->version_count);
}

static void put_peer_discovery(wr *w, const zhtp_wire_peer_discovery *d)
{
    w_u8(w, d->kind);
    w_u8(w, d->version_count);
    w_u16(w, (uint16_t)d->identity.len);
    w_u32(w, d->capabilities);
    w_bytes(w, d->versions, d->version_count);
    w_bytes(w, d->identity.ptr, d->identity.len);
}

static int get_peer_discovery(rd *r, zhtp_wire_peer_discovery *d)
{
    d->kind = rd_u8(r);
    d->version_count = rd_u8(r);
    uint16_t identity_len = rd_u16(r);
    d->capabilities = rd_u32(r);
    if (r->bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (d->version_count == 0 || d->version_count > ZHTP_WIRE_MAX_VERSIONS ||
        identity_len > ZHTP_WIRE_MAX_IDENTITY)
        return ZHTP_ERR_WIRE_LENGTH;
    d->versions = rd_take(r, d->version_count);
    d->identity.len = identity_len;
    d->identity.ptr = rd_take(r, identity_len);
    return 0;
}

/* ---- Handshakes. INIT: sender_index u32 | suite u8 | reserved u8[3] | 3 x field.
 *      RESPONSE: sender_index u32 | receiver_index u32 | suite u8 | reserved u8[3] |
 *      3 x field. COOKIE_REPLY: receiver_index u32 | 2 x field. field = len u16 | bytes.
 *      The bytes are the Sessions section's; here only their framing and bounds. ---- */

/* Inclusive [min, max] length of each field, per operation. */
static void field_bounds(uint8_t op, size_t mins[3], size_t maxs[3])
{
    switch (op) {
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
        mins[0] = maxs[0] = ZHTP_WIRE_HYBRID1_KEM_PK_LEN;
        break;
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE:
        mins[0] = maxs[0] = ZHTP_WIRE_HYBRID1_KEM_CT_LEN;
        break;
    default: /* COOKIE_REPLY: nonce, cookie, nothing */
        mins[0] = 1, maxs[0] = ZHTP_WIRE_MAX_NONCE;
        mins[1] = 1, maxs[1] = ZHTP_WIRE_MAX_COOKIE;
        mins[2] = maxs[2] = 0;
        return;
    }
    mins[1] = 0, maxs[1] = ZHTP_WIRE_MAX_IDENTITY;
    mins[2] = 0, maxs[2] = ZHTP_WIRE_MAX_MAC;
}

static int check_handshake(uint8_t op, const zhtp_wire_handshake *h)
{
    size_t mins[3], maxs[3];
    field_bounds(op, mins, maxs);
    for (int i = 0; i < ZHTP_WIRE_HANDSHAKE_FIELDS; i++) {
        if (!bytes_ok(&h->field[i]))
            return ZHTP_ERR_INVAL;
        if (h->field[i].len < mins[i] || h->field[i].len > maxs[i])
            return ZHTP_ERR_WIRE_LENGTH;
    }
    bool has_sender = op != ZHTP_WIRE_OP_COOKIE_REPLY;
    bool has_receiver = op != ZHTP_WIRE_OP_HANDSHAKE_INIT;
    if ((h->sender_index != 0) != has_sender || (h->receiver_index != 0) != has_receiver)
        return ZHTP_ERR_WIRE_FIELD;
    if (has_sender ? h->suite != ZHTP_WIRE_SUITE_HYBRID1 : h->suite != 0)
        return ZHTP_ERR_WIRE_FIELD;
    return 0;
}

static void put_handshake(wr *w, uint8_t op, const zhtp_wire_handshake *h)
{
    int nfields = ZHTP_WIRE_HANDSHAKE_FIELDS;
    if (op != ZHTP_WIRE_OP_COOKIE_REPLY)
        w_u32(w, h->sender_index);
    if (op != ZHTP_WIRE_OP_HANDSHAKE_INIT)
        w_u32(w, h->receiver_index);
    if (op != ZHTP_WIRE_OP_COOKIE_REPLY) {
        w_u8(w, h->suite);
        w_zero(w, 3);
    } else {
        nfields = 2;
    }
    for (int i = 0; i < nfields; i++) {
        w_u16(w, (uint16_t)h->field[i].len);
        w_bytes(w, h->field[i].ptr, h->field[i].len);
    }
}

static int get_handshake(rd *r, uint8_t op, zhtp_wire_handshake *h)
{
    memset(h, 0, sizeof *h);
    int nfields = ZHTP_WIRE_HANDSHAKE_FIELDS;
    if (op != ZHTP_WIRE_OP_COOKIE_REPLY)
        h->sender_index = rd_u32(r);
    if (op != ZHTP_WIRE_OP_HANDSHAKE_INIT)
        h->receiver_index = rd_u32(r);
    if (op != ZHTP_WIRE_OP_COOKIE_REPLY) {
        h->suite = rd_u8(r);
        const uint8_t *reserved = rd_take(r, 3);
        if (r->bad)
            return ZHTP_ERR_WIRE_TRUNCATED;
        if (!is_zero(reserved, 3))
            return ZHTP_ERR_WIRE_RESERVED;
    } else {
        nfields = 2;
    }
    size_t mins[3], maxs[3];
    field_bounds(op, mins, maxs);
    for (int i = 0; i < nfields; i++) {
        uint16_t len = rd_u16(r);
        if (r->bad)
            return ZHTP_ERR_WIRE_TRUNCATED;
        if (len < mins[i] || len > maxs[i])
            return ZHTP_ERR_WIRE_LENGTH;
        h->field[i].len = len;
        h->field[i].ptr = rd_take(r, len);
    }
    return 0;
}

/* ---- DATA: subtype u8 | reserved u8 | channel u16 | body (the rest) ---- */

static int check_data(const zhtp_wire_data *d)
{
    if (!bytes_ok(&d->body))
        return ZHTP_ERR_INVAL;
    if (d->body.len > ZHTP_WIRE_MAX_PAYLOAD - ZHTP_WIRE_DATA_HEADER_LEN)
        return ZHTP_ERR_WIRE_LENGTH;
    if (d->subtype == ZHTP_WIRE_DATA_APP)
        return 0;
    if (d->subtype != ZHTP_WIRE_DATA_IPV6 || d->channel != 0)
        return ZHTP_ERR_WIRE_FIELD;
    /* A tunnelled packet must at least be an IPv6 header, or the TUN write fails later,
     * further from the cause. */
    if (d->body.len < 40 || (d->body.ptr[0] >> 4) != 6)
        return ZHTP_ERR_WIRE_FIELD;
    return 0;
}

static void put_data(wr *w, const zhtp_wire_data *d)
{
    w_u8(w, d->subtype);
    w_zero(w, 1);
    w_u16(w, d->channel);
    w_bytes(w, d->body.ptr, d->body.len);
}

static int get_data(rd *r, zhtp_wire_data *d)
{
    d->subtype = rd_u8(r);
    uint8_t reserved = rd_u8(r);
    d->channel = rd_u16(r);
    if (r->bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (reserved)
        return ZHTP_ERR_WIRE_RESERVED;
    d->body.len = r->left;
    d->body.ptr = rd_take(r, r->left);
    return 0;
}

/* ---- ROUTING: tlv_count u8 | reserved u8 | tlv_count x (type u8 | reserved u8 |
 *      len u16 | value) ---- */

static int check_routing(const zhtp_wire_routing *rt)
{
    if (rt->tlv_count == 0 || rt->tlv_count > ZHTP_WIRE_MAX_ROUTING_TLV)
        return ZHTP_ERR_WIRE_LENGTH;
    size_t total = 2;
    for (size_t i = 0; i < rt->tlv_count; i++) {
        if (!bytes_ok(&rt->tlv[i].value))
            return ZHTP_ERR_INVAL;
        if (rt->tlv[i].value.len > UINT16_MAX)
            return ZHTP_ERR_WIRE_LENGTH;
        if (rt->tlv[i].type == 0)
            return ZHTP_ERR_WIRE_FIELD;
        total += 4 + rt->tlv[i].value.len;
    }
    return total > ZHTP_WIRE_MAX_PAYLOAD ? ZHTP_ERR_WIRE_LENGTH : 0;
}

static void put_routing(wr *w, const zhtp_wire_routing *rt)
{
    w_u8(w, rt->tlv_count);
    w_zero(w, 1);
    for (size_t i = 0; i < rt->tlv_count; i++) {
        w_u8(w, rt->tlv[i].type);
        w_zero(w, 1);
        w_u16(w, (uint16_t)rt->tlv[i].value.len);
        w_bytes(w, rt->tlv[i].value.ptr, rt->tlv[i].value.len);
    }
}

static int get_routing(rd *r, zhtp_wire_routing *rt)
{
    rt->tlv_count = rd_u8(r);
    uint8_t reserved = rd_u8(r);
    if (r->bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (reserved)
        return ZHTP_ERR_WIRE_RESERVED;
    if (rt->tlv_count == 0 || rt->tlv_count > ZHTP_WIRE_MAX_ROUTING_TLV)
        return ZHTP_ERR_WIRE_LENGTH;
    for (size_t i = 0; i < rt->tlv_count; i++) {
        rt->tlv[i].type = rd_u8(r);
        uint8_t tlv_reserved = rd_u8(r);
        uint16_t len = rd_u16(r);
        if (r->bad)
            return ZHTP_ERR_WIRE_TRUNCATED;
        if (tlv_reserved)
            return ZHTP_ERR_WIRE_RESERVED;
        rt->tlv[i].value.len = len;
        rt->tlv[i].value.ptr = rd_take(r, len);
    }
    return 0;
}

/* ---- RECEIPT: batch_seq u64 | entry_count u16 | sig_len u16 | entries[entry_count] |
 *      signature. entry: message_id u64 | origin[32] | payload_bytes u32 | hop_count u8 |
 *      reserved u8[3] ---- */

void zhtp_wire_receipt_entry_put(uint8_t out[ZHTP_WIRE_RECEIPT_ENTRY_LEN],
                                 const zhtp_wire_receipt_entry *e)
{
    put_u64(out, e->message_id);
    memcpy(out + 8, e->origin, ZHTP_NODE_ID_LEN);
    put_u32(out + 40, e->payload_bytes);
    out[44] = e->hop_count;
    memset(out + 45, 0, 3);
}

void zhtp_wire_receipt_entry_get(const zhtp_wire_receipt *r, size_t i, zhtp_wire_receipt_entry *e)
{
    const uint8_t *p = r->entries + i * ZHTP_WIRE_RECEIPT_ENTRY_LEN;
    e->message_id = get_u64(p);
    memcpy(e->origin, p + 8, ZHTP_NODE_ID_LEN);
    e->payload_bytes = get_u32(p + 40);
    e->hop_count = p[44];
}

static int check_receipt(const zhtp_wire_receipt *rc)
{
    if ((rc->entry_count && !rc->entries) || !bytes_ok(&rc->signature))
        return ZHTP_ERR_INVAL;
    if (rc->entry_count == 0 || rc->entry_count > ZHTP_WIRE_MAX_RECEIPTS ||
        rc->signature.len == 0 || rc->signature.len > ZHTP_WIRE_MAX_SIGNATURE)
        return ZHTP_ERR_WIRE_LENGTH;
    for (size_t i = 0; i < rc->entry_count; i++)
        if (!is_zero(rc->entries + i * ZHTP_WIRE_RECEIPT_ENTRY_LEN + 45, 3))
            return ZHTP_ERR_WIRE_RESERVED;
    return 0;
}

static void put_receipt(wr *w, const zhtp_wire_receipt *rc)
{
    w_u64(w, rc->batch_seq);
    w_u16(w, rc->entry_count);
    w_u16(w, (uint16_t)rc->signature.len);
    w_bytes(w, rc->entries, (size_t)rc->entry_count * ZHTP_WIRE_RECEIPT_ENTRY_LEN);
    w_bytes(w, rc->signature.ptr, rc->signature.len);
}

static int get_receipt(rd *r, zhtp_wire_receipt *rc)
{
    rc->batch_seq = rd_u64(r);
    rc->entry_count = rd_u16(r);
    uint16_t sig_len = rd_u16(r);
    if (r->bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (rc->entry_count == 0 || rc->entry_count > ZHTP_WIRE_MAX_RECEIPTS || sig_len == 0 ||
        sig_len > ZHTP_WIRE_MAX_SIGNATURE)
        return ZHTP_ERR_WIRE_LENGTH;
    rc->entries = rd_take(r, (size_t)rc->entry_count * ZHTP_WIRE_RECEIPT_ENTRY_LEN);
    rc->signature.len = sig_len;
    rc->signature.ptr = rd_take(r, sig_len);
    return 0;
}

/* ---- ERROR: in_reply_to u64 | code u16 | version_count u8 | reserved u8 | detail_len u16 |
 *      versions[version_count] | detail[detail_len] ---- */

static int check_error(const zhtp_wire_error *e)
{
    if (!bytes_ok(&e->detail))
        return ZHTP_ERR_INVAL;
    if (e->version_count > ZHTP_WIRE_MAX_VERSIONS || e->detail.len > ZHTP_WIRE_MAX_ERROR_DETAIL)
        return ZHTP_ERR_WIRE_LENGTH;
    if (e->code == 0)
        return ZHTP_ERR_WIRE_FIELD;
    bool is_vm = e->code == ZHTP_WIRE_ERROR_VERSION_MISMATCH;
    if (is_vm != (e->version_count > 0))
        return ZHTP_ERR_WIRE_FIELD;
    return check_versions(e->versions, e->version_count);
}

static void put_error(wr *w, const zhtp_wire_error *e)
{
    w_u64(w, e->in_reply_to);
    w_u16(w, e->code);
    w_u8(w, e->version_count);
    w_zero(w, 1);
    w_u16(w, (uint16_t)e->detail.len);
    w_bytes(w, e->versions, e->version_count);
    w_bytes(w, e->detail.ptr, e->detail.len);
}

static int get_error(rd *r, zhtp_wire_error *e)
{
    e->in_reply_to = rd_u64(r);
    e->code = rd_u16(r);
    e->version_count = rd_u8(r);
    uint8_t reserved = rd_u8(r);
    uint16_t detail_len = rd_u16(r);
    if (r->bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (reserved)
        return ZHTP_ERR_WIRE_RESERVED;
    if (e->version_count > ZHTP_WIRE_MAX_VERSIONS || detail_len > ZHTP_WIRE_MAX_ERROR_DETAIL)
        return ZHTP_ERR_WIRE_LENGTH;
    e->versions = rd_take(r, e->version_count);
    e->detail.len = detail_len;
    e->detail.ptr = rd_take(r, detail_len);
    return 0;
}

/* ---- dispatch ---- */

static int check_payload(const zhtp_wire_payload *p)
{
    switch (p->operation) {
    case ZHTP_WIRE_OP_QUERY:
    case ZHTP_WIRE_OP_QUERY_RESPONSE:
    case ZHTP_WIRE_OP_STORE:
    case ZHTP_WIRE_OP_STORE_ACK:
    case ZHTP_WIRE_OP_RELAY_QUERY:
    case ZHTP_WIRE_OP_RELAY_RESPONSE:
        return check_dht(p->operation, &p->u.dht);
    case ZHTP_WIRE_OP_PEER_DISCOVERY:
        return check_peer_discovery(&p->u.peer_discovery);
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE:
    case ZHTP_WIRE_OP_COOKIE_REPLY:
        return check_handshake(p->operation, &p->u.handshake);
    case ZHTP_WIRE_OP_DATA:
        return check_data(&p->u.data);
    case ZHTP_WIRE_OP_ROUTING:
        return check_routing(&p->u.routing);
    case ZHTP_WIRE_OP_RECEIPT:
        return check_receipt(&p->u.receipt);
    case ZHTP_WIRE_OP_ERROR:
        return check_error(&p->u.error);
    default:
        return ZHTP_ERR_WIRE_OPERATION;
    }
}

static void put_payload(wr *w, const zhtp_wire_payload *p)
{
    switch (p->operation) {
    case ZHTP_WIRE_OP_QUERY:
    case ZHTP_WIRE_OP_QUERY_RESPONSE:
    case ZHTP_WIRE_OP_STORE:
    case ZHTP_WIRE_OP_STORE_ACK:
    case ZHTP_WIRE_OP_RELAY_QUERY:
    case ZHTP_WIRE_OP_RELAY_RESPONSE:
        w_bytes(w, p->u.dht.msg.ptr, p->u.dht.msg.len);
        break;
    case ZHTP_WIRE_OP_PEER_DISCOVERY:
        put_peer_discovery(w, &p->u.peer_discovery);
        break;
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE:
    case ZHTP_WIRE_OP_COOKIE_REPLY:
        put_handshake(w, p->operation, &p->u.handshake);
        break;
    case ZHTP_WIRE_OP_DATA:
        put_data(w, &p->u.data);
        break;
    case ZHTP_WIRE_OP_ROUTING:
        put_routing(w, &p->u.routing);
        break;
    case ZHTP_WIRE_OP_RECEIPT:
        put_receipt(w, &p->u.receipt);
        break;
    case ZHTP_WIRE_OP_ERROR:
        put_error(w, &p->u.error);
        break;
    }
}

zhtp_ssize zhtp_wire_payload_encode(uint8_t *out, size_t cap, const zhtp_wire_payload *p)
{
    int err = check_payload(p);
    if (err)
        return err;
    wr sizer = {NULL, 0};
    put_payload(&sizer, p);
    if (sizer.n > ZHTP_WIRE_MAX_PAYLOAD)
        return ZHTP_ERR_WIRE_LENGTH;
    if (sizer.n > cap)
        return ZHTP_ERR_NOBUF;
    wr w = {out, 0};
    put_payload(&w, p);
    return (zhtp_ssize)w.n;
}

int zhtp_wire_payload_decode(zhtp_wire_payload *p, uint8_t op, const uint8_t *in, size_t in_len)
{
    if (in_len > ZHTP_WIRE_MAX_PAYLOAD)
        return ZHTP_ERR_WIRE_LENGTH;
    rd r = {in, in_len, false};
    int err;
    /* Each get_* sets every member of its struct (ROUTING: tlv[0..tlv_count)), so the
     * union is not cleared: it is ~800 bytes and clearing it dominated small decodes. */
    p->operation = op;
    switch (op) {
    case ZHTP_WIRE_OP_QUERY:
    case ZHTP_WIRE_OP_QUERY_RESPONSE:
    case ZHTP_WIRE_OP_STORE:
    case ZHTP_WIRE_OP_STORE_ACK:
    case ZHTP_WIRE_OP_RELAY_QUERY:
    case ZHTP_WIRE_OP_RELAY_RESPONSE:
        err = get_dht(&r, &p->u.dht);
        break;
    case ZHTP_WIRE_OP_PEER_DISCOVERY:
        err = get_peer_discovery(&r, &p->u.peer_discovery);
        break;
    case ZHTP_WIRE_OP_HANDSHAKE_INIT:
    case ZHTP_WIRE_OP_HANDSHAKE_RESPONSE:
    case ZHTP_WIRE_OP_COOKIE_REPLY:
        err = get_handshake(&r, op, &p->u.handshake);
        break;
    case ZHTP_WIRE_OP_DATA:
        err = get_data(&r, &p->u.data);
        break;
    case ZHTP_WIRE_OP_ROUTING:
        err = get_routing(&r, &p->u.routing);
        break;
    case ZHTP_WIRE_OP_RECEIPT:
        err = get_receipt(&r, &p->u.receipt);
        break;
    case ZHTP_WIRE_OP_ERROR:
        err = get_error(&r, &p->u.error);
        break;
    default:
        return ZHTP_ERR_WIRE_OPERATION;
    }
    if (err)
        return err;
    if (r.bad)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (r.left)
        return ZHTP_ERR_WIRE_LENGTH;
    return check_payload(p);
}
