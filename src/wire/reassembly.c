/* Reassembly of fragments into packets, with hard bounds on memory and time
 * (docs/protocol.md "Fragmentation", receiver rules).
 *
 * A partial packet is one allocation: the entry, the packet buffer (total_len bytes, the
 * size its first fragment claims) and a bitmap of received 8-byte blocks. Its accounted
 * size is that allocation's size exactly, so the configured byte limits bound real memory
 * (the handle and the finished-ring are a fixed overhead on top, sized at creation).
 * Entries sit in one list in order of creation, which is eviction order (oldest first) and
 * also deadline order (a new entry's deadline is never before its predecessor's), so expiry
 * and next_deadline look at the head only. The limits on packet counts keep every linear
 * walk below a few hundred steps.
 *
 * Per fragment (the hot path: 13 per 16 KiB packet on a 1280-byte link) the work is a list
 * lookup, one test of the fragment's bitmap range a word at a time and one copy; the
 * block-by-block comparison runs only when the range already holds some blocks (duplicates,
 * overlapping retransmissions). */
#include <string.h>

#include "zhtp/wire.h"

typedef struct entry {
    struct entry *prev, *next;
    uint64_t peer;
    uint16_t tag;
    uint32_t total_len;
    size_t received; /* bytes of the packet present */
    size_t acct;     /* size of this allocation */
    zhtp_time deadline;
    uint8_t *buf;
    uint8_t *bitmap; /* bit b set: block b (bytes 8b..min(8b+8,total)) present */
} entry;

typedef struct finished {
    uint64_t peer;
    zhtp_time until;
    uint16_t tag;
    bool used;
} finished;

struct zhtp_wire_reasm {
    zhtp_wire_reasm_config cfg;
    entry *head, *tail;
    size_t bytes, packets;
    entry *done; /* the completed packet handed out last; freed on the next call */
    finished *ring;
    size_t ring_pos;
    uint64_t completed, expired, evicted, rejected;
};

static size_t bitmap_len(uint32_t total_len)
{
    size_t blocks = ((size_t)total_len + 7) / 8;
    return (blocks + 7) / 8;
}

static size_t entry_size(uint32_t total_len)
{
    return sizeof(entry) + total_len + bitmap_len(total_len);
}

int zhtp_wire_reasm_new(zhtp_wire_reasm **out, const zhtp_wire_reasm_config *cfg)
{
    zhtp_wire_reasm_config c;
    if (cfg)
        c = *cfg;
    else
        memset(&c, 0, sizeof c);
    if (!c.mem)
        c.mem = zhtp_mem_default();
    if (!c.max_bytes_per_peer)
        c.max_bytes_per_peer = 1u << 20;
    if (!c.max_bytes_total)
        c.max_bytes_total = 8u << 20;
    if (!c.max_packets_per_peer)
        c.max_packets_per_peer = 8;
    if (!c.max_packets_total)
        c.max_packets_total = 256;
    if (!c.max_packet_len || c.max_packet_len > ZHTP_WIRE_FRAG_MAX_TOTAL)
        c.max_packet_len = ZHTP_WIRE_FRAG_MAX_TOTAL;
    if (!c.timeout_ns)
        c.timeout_ns = 30 * ZHTP_NS_PER_SEC;
    if (!c.finished_memory)
        c.finished_memory = 128;
    if (c.max_bytes_per_peer > c.max_bytes_total || c.max_packets_per_peer > c.max_packets_total)
        return ZHTP_ERR_INVAL;

    zhtp_wire_reasm *r = zhtp_mem_alloc(c.mem, sizeof *r);
    if (!r)
        return ZHTP_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    r->cfg = c;
    r->ring = zhtp_mem_alloc(c.mem, c.finished_memory * sizeof *r->ring);
    if (!r->ring) {
        zhtp_mem_free(c.mem, r, sizeof *r);
        return ZHTP_ERR_NOMEM;
    }
    memset(r->ring, 0, c.finished_memory * sizeof *r->ring);
    *out = r;
    return 0;
}

static void release_done(zhtp_wire_reasm *r)
{
    if (r->done) {
        r->bytes -= r->done->acct;
        zhtp_mem_free(r->cfg.mem, r->done, r->done->acct);
        r->done = NULL;
    }
}

void zhtp_wire_reasm_free(zhtp_wire_reasm *r)
{
    if (!r)
        return;
    release_done(r);
    entry *e = r->head;
    while (e) {
        entry *next = e->next;
        zhtp_mem_free(r->cfg.mem, e, e->acct);
        e = next;
    }
    const zhtp_mem *m = r->cfg.mem;
    zhtp_mem_free(m, r->ring, r->cfg.finished_memory * sizeof *r->ring);
    zhtp_mem_free(m, r, sizeof *r);
}

static void unlink_entry(zhtp_wire_reasm *r, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        r->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        r->tail = e->prev;
    e->prev = e->next = NULL;
    r->packets--;
}

/* Late fragments of a packet we are done with must not start it again: they would pin
 * memory until the timeout for a packet that can never complete (or, if every fragment is
 * replayed, deliver a duplicate). The ring remembers the last finished_memory of them. */
static void remember(zhtp_wire_reasm *r, uint64_t peer, uint16_t tag, zhtp_time now)
{
    finished *f = &r->ring[r->ring_pos];
    r->ring_pos = (r->ring_pos + 1) % r->cfg.finished_memory;
    f->peer = peer;
    f->tag = tag;
    f->until =
        now > ZHTP_TIME_NEVER - r->cfg.timeout_ns ? ZHTP_TIME_NEVER : now + r->cfg.timeout_ns;
    f->used = true;
}

static bool recently_finished(const zhtp_wire_reasm *r, uint64_t peer, uint16_t tag, zhtp_time now)
{
    for (size_t i = 0; i < r->cfg.finished_memory; i++) {
        const finished *f = &r->ring[i];
        if (f->used && f->peer == peer && f->tag == tag && now < f->until)
            return true;
    }
    return false;
}

/* Removes a partial packet for good, remembering it as finished. */
static void drop_entry(zhtp_wire_reasm *r, entry *e, zhtp_time now)
{
    unlink_entry(r, e);
    remember(r, e->peer, e->tag, now);
    r->bytes -= e->acct;
    zhtp_mem_free(r->cfg.mem, e, e->acct);
}

/* Deadlines never decrease along the list, so the due entries are a prefix of it. */
static size_t expire(zhtp_wire_reasm *r, zhtp_time now)
{
    size_t n = 0;
    while (r->head && r->head->deadline <= now) {
        drop_entry(r, r->head, now);
        n++;
    }
    r->expired += n;
    return n;
}

size_t zhtp_wire_reasm_peer_bytes(const zhtp_wire_reasm *r, uint64_t peer, size_t *packets)
{
    size_t bytes = 0, n = 0;
    for (const entry *e = r->head; e; e = e->next)
        if (e->peer == peer) {
            bytes += e->acct;
            n++;
        }
    if (packets)
        *packets = n;
    return bytes;
}

static entry *find(const zhtp_wire_reasm *r, uint64_t peer, uint16_t tag)
{
    for (entry *e = r->head; e; e = e->next)
        if (e->peer == peer && e->tag == tag)
            return e;
    return NULL;
}

static entry *oldest_of(const zhtp_wire_reasm *r, uint64_t peer)
{
    for (entry *e = r->head; e; e = e->next)
        if (e->peer == peer)
            return e;
    return NULL;
}

/* Makes room for a new packet of |need| accounted bytes from |peer|, oldest first. */
static void make_room(zhtp_wire_reasm *r, uint64_t peer, size_t need, zhtp_time now)
{
    size_t peer_packets;
    size_t peer_bytes = zhtp_wire_reasm_peer_bytes(r, peer, &peer_packets);
    while (peer_packets + 1 > r->cfg.max_packets_per_peer ||
           peer_bytes + need > r->cfg.max_bytes_per_peer) {
        entry *e = oldest_of(r, peer);
        peer_packets--;
        peer_bytes -= e->acct;
        drop_entry(r, e, now);
        r->evicted++;
    }
    while (r->packets + 1 > r->cfg.max_packets_total || r->bytes + need > r->cfg.max_bytes_total) {
        if (!r->head)
            break; /* only the done packet, released already: cannot happen */
        drop_entry(r, r->head, now);
        r->evicted++;
    }
}

static bool bit_get(const uint8_t *bm, size_t b)
{
    return (bm[b / 8] >> (b % 8)) & 1;
}

static void bit_set(uint8_t *bm, size_t b)
{
    bm[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* Whether any of bits lo..hi (inclusive) is set: masked edge bytes, whole words between. */
static bool bits_any(const uint8_t *bm, size_t lo, size_t hi)
{
    size_t bl = lo / 8, bh = hi / 8;
    uint8_t ml = (uint8_t)(0xffu << (lo % 8)), mh = (uint8_t)(0xffu >> (7 - hi % 8));
    if (bl == bh)
        return (bm[bl] & ml & mh) != 0;
    if ((bm[bl] & ml) || (bm[bh] & mh))
        return true;
    const uint8_t *p = bm + bl + 1;
    size_t n = bh - bl - 1;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        if (w)
            return true;
    }
    for (; n; p++, n--)
        if (*p)
            return true;
    return false;
}

/* Sets bits lo..hi (inclusive). */
static void bits_set(uint8_t *bm, size_t lo, size_t hi)
{
    size_t bl = lo / 8, bh = hi / 8;
    uint8_t ml = (uint8_t)(0xffu << (lo % 8)), mh = (uint8_t)(0xffu >> (7 - hi % 8));
    if (bl == bh) {
        bm[bl] |= ml & mh;
        return;
    }
    bm[bl] |= ml;
    memset(bm + bl + 1, 0xff, bh - bl - 1);
    bm[bh] |= mh;
}

/* Adds a fragment whose range already holds some blocks. Every byte present must equal the
 * fragment's (else false, nothing changed): two different claims about one packet. */
static bool merge_overlapping(entry *e, size_t offset, zhtp_wire_bytes data)
{
    size_t first = offset / 8, end = offset + data.len, last = (end - 1) / 8;
    for (size_t b = first; b <= last; b++) {
        if (!bit_get(e->bitmap, b))
            continue;
        size_t lo = b * 8, hi = lo + 8 < end ? lo + 8 : end;
        if (memcmp(e->buf + lo, data.ptr + (lo - offset), hi - lo) != 0)
            return false;
    }
    /* Every block already present was just found equal, so one copy of the whole
     * fragment changes only the missing blocks. */
    memcpy(e->buf + offset, data.ptr, data.len);
    for (size_t b = first; b <= last; b++) {
        if (bit_get(e->bitmap, b))
            continue;
        size_t lo = b * 8, hi = lo + 8 < end ? lo + 8 : end;
        bit_set(e->bitmap, b);
        e->received += hi - lo;
    }
    return true;
}

zhtp_ssize zhtp_wire_reasm_feed(zhtp_wire_reasm *r, uint64_t peer, const uint8_t *frame,
                                size_t frame_len, zhtp_time now, const uint8_t **packet)
{
    release_done(r);
    expire(r, now);

    zhtp_wire_frag_header fh;
    zhtp_wire_bytes data;
    int err = zhtp_wire_frag_decode(&fh, &data, frame, frame_len);
    if (err) {
        r->rejected++;
        return err;
    }
    if (fh.total_len > r->cfg.max_packet_len) {
        r->rejected++;
        return ZHTP_ERR_WIRE_REASSEMBLY_FULL;
    }
    /* A (peer, tag) held as a partial packet cannot also be remembered as finished (the
     * memory is consulted before any entry is created), so only a fragment that would
     * start a packet pays for the scan of the finished-ring. */
    entry *e = find(r, peer, fh.tag);
    if (!e && recently_finished(r, peer, fh.tag, now)) {
        r->rejected++;
        return ZHTP_ERR_WIRE_FRAGMENT_LATE; /* a repeated copy, or after an eviction */
    }
    if (!e) {
        size_t need = entry_size(fh.total_len);
        if (need > r->cfg.max_bytes_per_peer || need > r->cfg.max_bytes_total) {
            r->rejected++;
            return ZHTP_ERR_WIRE_REASSEMBLY_FULL;
        }
        make_room(r, peer, need, now);
        e = zhtp_mem_alloc(r->cfg.mem, need);
        if (!e)
            return ZHTP_ERR_NOMEM;
        /* Only the bitmap needs zeroes: a byte of buf is read (compared or handed out) only
         * once its block's bit says it was written. */
        e->next = NULL;
        e->peer = peer;
        e->tag = fh.tag;
        e->total_len = fh.total_len;
        e->received = 0;
        e->acct = need;
        e->deadline = now > ZHTP_TIME_NEVER - 1 - r->cfg.timeout_ns ? ZHTP_TIME_NEVER - 1
                                                                    : now + r->cfg.timeout_ns;
        /* A clock that stepped back must not put a deadline before an older entry's: expiry
         * only looks at the head. */
        if (r->tail && e->deadline < r->tail->deadline)
            e->deadline = r->tail->deadline;
        e->buf = (uint8_t *)(e + 1);
        e->bitmap = e->buf + fh.total_len;
        memset(e->bitmap, 0, bitmap_len(fh.total_len));
        e->prev = r->tail;
        if (r->tail)
            r->tail->next = e;
        else
            r->head = e;
        r->tail = e;
        r->packets++;
        r->bytes += need;
    } else if (e->total_len != fh.total_len) {
        /* Two claims about one packet: we cannot tell which is true, so neither wins. */
        drop_entry(r, e, now);
        r->rejected++;
        return ZHTP_ERR_WIRE_FRAGMENT;
    }

    /* The fragment covers whole blocks: it starts on a block boundary and either ends on
     * one or at total_len (frag_decode checked both). */
    size_t first = fh.offset / 8, end = fh.offset + data.len;
    if (!bits_any(e->bitmap, first, (end - 1) / 8)) {
        /* Nothing of this range yet (the usual case): no comparison, and the fragment's
         * bytes are exactly the new ones. */
        memcpy(e->buf + fh.offset, data.ptr, data.len);
        bits_set(e->bitmap, first, (end - 1) / 8);
        e->received += data.len;
    } else if (!merge_overlapping(e, fh.offset, data)) {
        drop_entry(r, e, now);
        r->rejected++;
        return ZHTP_ERR_WIRE_FRAGMENT;
    }
    if (e->received < e->total_len)
        return ZHTP_ERR_AGAIN;

    unlink_entry(r, e);
    remember(r, peer, fh.tag, now);
    r->done = e; /* stays in r->bytes until released */
    r->completed++;
    *packet = e->buf;
    return (zhtp_ssize)e->total_len;
}

zhtp_time zhtp_wire_reasm_next_deadline(const zhtp_wire_reasm *r)
{
    return r->head ? r->head->deadline : ZHTP_TIME_NEVER; /* deadlines ascend along the list */
}

size_t zhtp_wire_reasm_tick(zhtp_wire_reasm *r, zhtp_time now)
{
    release_done(r);
    return expire(r, now);
}

void zhtp_wire_reasm_get_stats(const zhtp_wire_reasm *r, zhtp_wire_reasm_stats *st)
{
    st->bytes_total = r->bytes;
    st->packets_total = r->packets;
    st->completed = r->completed;
    st->expired = r->expired;
    st->evicted = r->evicted;
    st->rejected = r->rejected;
}
