/* Reassembly: overlap and mismatch handling, no resurrection, memory bounds under a flood,
 * expiry on a virtual clock, a differential test against a dumb model, and allocation
 * failure injection (fail the Nth allocation for every N). */
#include <stdlib.h>
#include <string.h>

#include "zhtp/wire.h"

#include "testutil.h"

/* ---- a counting allocator that can fail the Nth allocation ---- */

typedef struct counting {
    size_t live_bytes, live_count;
    long calls, fail_at; /* fail_at 0: never */
} counting;

static void *c_alloc(void *ud, size_t size)
{
    counting *c = ud;
    if (++c->calls == c->fail_at)
        return NULL;
    void *p = malloc(size);
    if (p) {
        c->live_bytes += size;
        c->live_count++;
    }
    return p;
}

static void c_free(void *ud, void *p, size_t size)
{
    counting *c = ud;
    if (!p)
        return;
    c->live_bytes -= size;
    c->live_count--;
    free(p);
}

/* Builds the fragment frame for bytes [off, off+n) of a packet of total bytes. */
static size_t frame(uint8_t *out, uint16_t tag, uint32_t total, uint32_t off, const uint8_t *data,
                    size_t n)
{
    out[0] = 0x80;
    out[1] = (uint8_t)(tag >> 8), out[2] = (uint8_t)tag;
    out[3] = (uint8_t)(total >> 16), out[4] = (uint8_t)(total >> 8), out[5] = (uint8_t)total;
    out[6] = (uint8_t)((off / 8) >> 8), out[7] = (uint8_t)(off / 8);
    memcpy(out + 8, data, n);
    return 8 + n;
}

static zhtp_ssize feed_part(zhtp_wire_reasm *ra, uint64_t peer, uint16_t tag, const uint8_t *packet,
                            uint32_t total, uint32_t off, size_t n, zhtp_time now,
                            const uint8_t **out)
{
    static uint8_t fb[ZHTP_WIRE_FRAG_MAX_TOTAL + 8];
    size_t len = frame(fb, tag, total, off, packet + off, n);
    return zhtp_wire_reasm_feed(ra, peer, fb, len, now, out);
}

static void overlapping_fragments_must_agree(void **state)
{
    zhtp_wire_reasm *ra;
    uint8_t p[100], q[100];
    const uint8_t *out;
    for (int i = 0; i < 100; i++)
        p[i] = (uint8_t)i;
    assert_int_equal(zhtp_wire_reasm_new(&ra, NULL), 0);
    /* consistent overlap: [0,48) then [32,100) then complete */
    assert_int_equal(feed_part(ra, 1, 1, p, 100, 0, 48, 0, &out), ZHTP_ERR_AGAIN);
    assert_int_equal(feed_part(ra, 1, 1, p, 100, 0, 48, 0, &out), ZHTP_ERR_AGAIN); /* dup */
    assert_int_equal(feed_part(ra, 1, 1, p, 100, 32, 68, 0, &out), 100);
    assert_memory_equal(out, p, 100);
    /* inconsistent overlap: one byte differs inside the overlap -> whole packet dropped */
    memcpy(q, p, sizeof q);
    q[40] ^= 1;
    assert_int_equal(feed_part(ra, 1, 2, p, 100, 0, 48, 0, &out), ZHTP_ERR_AGAIN);
    assert_int_equal(feed_part(ra, 1, 2, q, 100, 32, 68, 0, &out), ZHTP_ERR_WIRE_FRAGMENT);
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.packets_total, 0);
    /* and it does not come back from its remaining fragments */
    assert_int_equal(feed_part(ra, 1, 2, p, 100, 48, 52, 0, &out), ZHTP_ERR_WIRE_FRAGMENT_LATE);
    /* a fragment claiming another total_len for the same tag: both claims dropped */
    assert_int_equal(feed_part(ra, 1, 3, p, 100, 0, 48, 0, &out), ZHTP_ERR_AGAIN);
    assert_int_equal(feed_part(ra, 1, 3, p, 96, 48, 48, 0, &out), ZHTP_ERR_WIRE_FRAGMENT);
    assert_int_equal(feed_part(ra, 1, 3, p, 100, 48, 52, 0, &out), ZHTP_ERR_WIRE_FRAGMENT_LATE);
    /* the same tag from another peer is another packet */
    assert_int_equal(feed_part(ra, 2, 3, p, 100, 0, 100, 0, &out), 100);
    zhtp_wire_reasm_free(ra);
}

static void evicted_packets_are_not_resurrected(void **state)
{
    zhtp_wire_reasm *ra;
    zhtp_wire_reasm_config cfg = {0};
    uint8_t p[64];
    const uint8_t *out;
    memset(p, 9, sizeof p);
    cfg.max_packets_per_peer = 1;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    assert_int_equal(feed_part(ra, 1, 10, p, 64, 0, 32, 0, &out), ZHTP_ERR_AGAIN);
    assert_int_equal(feed_part(ra, 1, 11, p, 64, 0, 32, 1, &out), ZHTP_ERR_AGAIN); /* evicts 10 */
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(feed_part(ra, 1, 10, p, 64, 32, 32, 2, &out), ZHTP_ERR_WIRE_FRAGMENT_LATE);
    assert_int_equal(feed_part(ra, 1, 10, p, 64, 0, 64, 2, &out), ZHTP_ERR_WIRE_FRAGMENT_LATE);
    assert_int_equal(feed_part(ra, 1, 11, p, 64, 32, 32, 3, &out), 64);
    /* once the memory of tag 10 has aged out, the tag is free for a new packet */
    zhtp_time later = 2 + 30 * ZHTP_NS_PER_SEC;
    assert_int_equal(feed_part(ra, 1, 10, p, 64, 0, 64, later, &out), 64);
    zhtp_wire_reasm_free(ra);
}

static void partial_packets_expire_on_the_virtual_clock(void **state)
{
    zhtp_wire_reasm *ra;
    zhtp_wire_reasm_config cfg = {0};
    uint8_t p[64] = {0};
    const uint8_t *out;
    cfg.timeout_ns = 5 * ZHTP_NS_PER_SEC;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    assert_true(zhtp_wire_reasm_next_deadline(ra) == ZHTP_TIME_NEVER);
    zhtp_time t0 = 1000;
    assert_int_equal(feed_part(ra, 1, 1, p, 64, 0, 32, t0, &out), ZHTP_ERR_AGAIN);
    assert_int_equal(feed_part(ra, 2, 1, p, 64, 0, 32, t0 + 7, &out), ZHTP_ERR_AGAIN);
    assert_true(zhtp_wire_reasm_next_deadline(ra) == t0 + cfg.timeout_ns);
    assert_int_equal(zhtp_wire_reasm_tick(ra, t0 + cfg.timeout_ns - 1), 0);
    assert_int_equal(zhtp_wire_reasm_tick(ra, t0 + cfg.timeout_ns), 1);
    assert_true(zhtp_wire_reasm_next_deadline(ra) == t0 + 7 + cfg.timeout_ns);
    /* feeding also expires: a fragment after peer 2's deadline finds nothing to join */
    assert_int_equal(feed_part(ra, 2, 1, p, 64, 32, 32, t0 + 7 + cfg.timeout_ns, &out),
                     ZHTP_ERR_WIRE_FRAGMENT_LATE);
    assert_true(zhtp_wire_reasm_next_deadline(ra) == ZHTP_TIME_NEVER);
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.bytes_total, 0);
    zhtp_wire_reasm_free(ra);
}

static void memory_bounds_hold_under_a_flood(void **state)
{
    counting c = {0};
    zhtp_mem mem = {c_alloc, c_free, &c};
    zhtp_wire_reasm_config cfg = {0};
    cfg.mem = &mem;
    cfg.max_bytes_per_peer = 200000;
    cfg.max_bytes_total = 1000000;
    cfg.max_packets_per_peer = 4;
    cfg.max_packets_total = 64;
    zhtp_wire_reasm *ra;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    size_t fixed = c.live_bytes;
    static uint8_t junk[70000];
    zt_rng r;
    zt_rng_seed(&r, 600);
    zt_rng_bytes(&r, junk, sizeof junk);
    const uint8_t *out;
    int full = 0;
    for (int i = 0; i < 50000; i++) {
        uint64_t peer = zt_rng_below(&r, 40);
        uint32_t total = 1 + (uint32_t)zt_rng_below(&r, i % 10 ? 4000 : 300000);
        uint32_t off = (uint32_t)zt_rng_below(&r, (total + 7) / 8) * 8;
        size_t n = total - off < 64 ? total - off : 64;
        uint8_t fb[80];
        size_t len = frame(fb, (uint16_t)zt_rng_u64(&r), total, off, junk, n);
        zhtp_ssize got = zhtp_wire_reasm_feed(ra, peer, fb, len, (zhtp_time)i, &out);
        full += got == ZHTP_ERR_WIRE_REASSEMBLY_FULL;
        zhtp_wire_reasm_stats st;
        zhtp_wire_reasm_get_stats(ra, &st);
        assert_true(st.bytes_total <= cfg.max_bytes_total);
        assert_true(st.packets_total <= cfg.max_packets_total);
        assert_true(c.live_bytes == fixed + st.bytes_total); /* accounting is real memory */
        size_t pk;
        assert_true(zhtp_wire_reasm_peer_bytes(ra, peer, &pk) <= cfg.max_bytes_per_peer);
        assert_true(pk <= cfg.max_packets_per_peer);
    }
    assert_true(full > 0); /* 300 kB claims exceed the per-peer limit and are refused */
    zhtp_wire_reasm_free(ra);
    assert_int_equal(c.live_bytes, 0);
    assert_int_equal(c.live_count, 0);
}

/* ---- the dumb model: byte arrays, per-byte flags, a FIFO of finished ids ---- */

typedef struct m_entry {
    uint64_t peer;
    uint16_t tag;
    uint32_t total;
    uint8_t *data, *have;
    size_t acct;
    zhtp_time deadline;
} m_entry;

typedef struct model {
    m_entry e[256]; /* in creation order */
    size_t n;
    struct {
        uint64_t peer;
        uint16_t tag;
        zhtp_time until;
        bool used;
    } ring[16];
    size_t ring_pos;
    size_t overhead; /* accounted bytes of an entry beyond packet + bitmap */
    zhtp_wire_reasm_config cfg;
    uint8_t *done;
} model;

static size_t m_acct(const model *m, uint32_t total)
{
    return m->overhead + total + ((total + 7) / 8 + 7) / 8;
}

static void m_remember(model *m, uint64_t peer, uint16_t tag, zhtp_time now)
{
    m->ring[m->ring_pos].peer = peer;
    m->ring[m->ring_pos].tag = tag;
    m->ring[m->ring_pos].until = now + m->cfg.timeout_ns;
    m->ring[m->ring_pos].used = true;
    m->ring_pos = (m->ring_pos + 1) % 16;
}

static void m_drop(model *m, size_t i, zhtp_time now)
{
    m_remember(m, m->e[i].peer, m->e[i].tag, now);
    free(m->e[i].data);
    free(m->e[i].have);
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof m->e[0]);
    m->n--;
}

static size_t m_bytes(const model *m, bool one_peer, uint64_t peer, size_t *count)
{
    size_t b = 0, k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (!one_peer || m->e[i].peer == peer) {
            b += m->e[i].acct;
            k++;
        }
    *count = k;
    return b;
}

static zhtp_ssize m_feed(model *m, uint64_t peer, uint16_t tag, uint32_t total, uint32_t off,
                         const uint8_t *d, size_t n, zhtp_time now, const uint8_t **out)
{
    free(m->done);
    m->done = NULL;
    for (size_t i = 0; i < m->n;)
        if (m->e[i].deadline <= now)
            m_drop(m, i, now);
        else
            i++;
    for (size_t i = 0; i < 16; i++)
        if (m->ring[i].used && m->ring[i].peer == peer && m->ring[i].tag == tag &&
            now < m->ring[i].until)
            return ZHTP_ERR_WIRE_FRAGMENT_LATE;
    size_t i;
    for (i = 0; i < m->n; i++)
        if (m->e[i].peer == peer && m->e[i].tag == tag)
            break;
    if (i == m->n) {
        size_t need = m_acct(m, total), k;
        if (need > m->cfg.max_bytes_per_peer || need > m->cfg.max_bytes_total)
            return ZHTP_ERR_WIRE_REASSEMBLY_FULL;
        for (;;) {
            size_t b = m_bytes(m, true, peer, &k);
            if (k + 1 <= m->cfg.max_packets_per_peer && b + need <= m->cfg.max_bytes_per_peer)
                break;
            for (size_t j = 0; j < m->n; j++)
                if (m->e[j].peer == peer) {
                    m_drop(m, j, now);
                    break;
                }
        }
        for (;;) {
            size_t b = m_bytes(m, false, 0, &k);
            if (k + 1 <= m->cfg.max_packets_total && b + need <= m->cfg.max_bytes_total)
                break;
            m_drop(m, 0, now);
        }
        m_entry *e = &m->e[m->n++];
        e->peer = peer, e->tag = tag, e->total = total, e->acct = need;
        e->data = calloc(total, 1);
        e->have = calloc(total, 1);
        e->deadline = now + m->cfg.timeout_ns;
        i = m->n - 1;
    } else if (m->e[i].total != total) {
        m_drop(m, i, now);
        return ZHTP_ERR_WIRE_FRAGMENT;
    }
    m_entry *e = &m->e[i];
    for (size_t j = 0; j < n; j++)
        if (e->have[off + j] && e->data[off + j] != d[j]) {
            m_drop(m, i, now);
            return ZHTP_ERR_WIRE_FRAGMENT;
        }
    for (size_t j = 0; j < n; j++) {
        e->data[off + j] = d[j];
        e->have[off + j] = 1;
    }
    for (size_t j = 0; j < total; j++)
        if (!e->have[j])
            return ZHTP_ERR_AGAIN;
    m->done = e->data;
    free(e->have);
    m_remember(m, peer, tag, now);
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof m->e[0]);
    m->n--;
    *out = m->done;
    return total;
}

/* The content a peer means for (tag, total): a function of them, so fragments agree unless
 * the test corrupts one on purpose. */
static uint8_t content(uint64_t peer, uint16_t tag, uint32_t total, uint32_t i)
{
    return (uint8_t)(peer * 31 + tag * 7 + total * 3 + i * 13 + (i >> 8));
}

static void reassembly_matches_a_dumb_model(void **state)
{
    static model m;
    memset(&m, 0, sizeof m);
    m.cfg.max_bytes_per_peer = 3000;
    m.cfg.max_bytes_total = 7000;
    m.cfg.max_packets_per_peer = 3;
    m.cfg.max_packets_total = 6;
    m.cfg.timeout_ns = 1000;
    m.cfg.finished_memory = 16;
    m.cfg.max_packet_len = 2500;
    zhtp_wire_reasm *ra;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &m.cfg), 0);
    {
        /* learn the per-entry overhead from one packet of known size */
        const uint8_t *o;
        uint8_t z[8] = {0};
        uint8_t fb[16];
        size_t len = frame(fb, 999, 16, 0, z, 8);
        assert_int_equal(zhtp_wire_reasm_feed(ra, 99, fb, len, 0, &o), ZHTP_ERR_AGAIN);
        m.overhead = zhtp_wire_reasm_peer_bytes(ra, 99, NULL) - 16 - 1;
        assert_int_equal(zhtp_wire_reasm_tick(ra, 1000), 1);
        m_remember(&m, 99, 999, 1000); /* the real one remembers it too */
    }
    zt_rng r;
    zt_rng_seed(&r, 700);
    zhtp_time now = 2000;
    uint8_t d[2600], fb[2700];
    for (int step = 0; step < 200000; step++) {
        now += zt_rng_below(&r, 40);
        if (zt_rng_below(&r, 50) == 0) {
            size_t a = zhtp_wire_reasm_tick(ra, now);
            size_t before = m.n;
            for (size_t i = 0; i < m.n;)
                if (m.e[i].deadline <= now)
                    m_drop(&m, i, now);
                else
                    i++;
            free(m.done);
            m.done = NULL;
            assert_int_equal(a, before - m.n);
            continue;
        }
        uint64_t peer = zt_rng_below(&r, 4);
        uint16_t tag = (uint16_t)zt_rng_below(&r, 12);
        static const uint32_t totals[] = {1, 7, 8, 9, 64, 100, 700, 1500, 2500, 2600};
        uint32_t total = totals[zt_rng_below(&r, 10)];
        if (zt_rng_below(&r, 3))
            total = totals[(tag + peer) % 9]; /* usually one size per (peer, tag) */
        uint32_t blocks = (total + 7) / 8;
        uint32_t b0 = (uint32_t)zt_rng_below(&r, blocks);
        uint32_t nb = 1 + (uint32_t)zt_rng_below(&r, blocks - b0 < 40 ? blocks - b0 : 40);
        uint32_t off = b0 * 8;
        size_t n = (b0 + nb == blocks) ? total - off : (size_t)nb * 8;
        for (size_t j = 0; j < n; j++)
            d[j] = content(peer, tag, total, off + (uint32_t)j);
        if (zt_rng_below(&r, 100) == 0)
            d[zt_rng_below(&r, n)] ^= 0x10;
        size_t len = frame(fb, tag, total, off, d, n);
        const uint8_t *got_pkt = NULL, *want_pkt = NULL;
        zhtp_ssize got = zhtp_wire_reasm_feed(ra, peer, fb, len, now, &got_pkt);
        zhtp_ssize want = total > m.cfg.max_packet_len
                              ? ZHTP_ERR_WIRE_REASSEMBLY_FULL
                              : m_feed(&m, peer, tag, total, off, d, n, now, &want_pkt);
        if (total > m.cfg.max_packet_len) {
            /* the real one still released its done packet and expired; mirror that */
            free(m.done);
            m.done = NULL;
            for (size_t i = 0; i < m.n;)
                if (m.e[i].deadline <= now)
                    m_drop(&m, i, now);
                else
                    i++;
        }
        if (got != want)
            fail_msg("step %d: got %zd want %zd", step, got, want);
        if (got > 0)
            assert_memory_equal(got_pkt, want_pkt, (size_t)got);
        zhtp_wire_reasm_stats st;
        zhtp_wire_reasm_get_stats(ra, &st);
        size_t k, mb = m_bytes(&m, false, 0, &k);
        if (m.done)
            mb += m_acct(&m, (uint32_t)got); /* the handed-out packet is still held */
        assert_int_equal(st.packets_total, k);
        assert_int_equal(st.bytes_total, mb);
        zhtp_time md = ZHTP_TIME_NEVER;
        for (size_t i = 0; i < m.n; i++)
            if (m.e[i].deadline < md)
                md = m.e[i].deadline;
        assert_true(zhtp_wire_reasm_next_deadline(ra) == md);
    }
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    print_message("# model: completed %llu expired %llu evicted %llu rejected %llu\n",
                  (unsigned long long)st.completed, (unsigned long long)st.expired,
                  (unsigned long long)st.evicted, (unsigned long long)st.rejected);
    assert_true(st.completed > 100 && st.expired > 10 && st.evicted > 10 && st.rejected > 10);
    zhtp_wire_reasm_free(ra);
    free(m.done);
    for (size_t i = 0; i < m.n; i++) {
        free(m.e[i].data);
        free(m.e[i].have);
    }
}

/* ---- the bitmap fast path: edges against a byte-level model ---- */

/* One packet at a time against a model that keeps a "have" flag per byte: random block ranges
 * from one block up to the whole packet (so the word-at-a-time bitmap test sees ranges that
 * start and end inside bitmap bytes and span whole words), duplicates, and fragments with one
 * byte changed either where bytes are already present (must drop the packet) or where none is
 * yet (must be accepted: only present bytes have to agree). Totals sit on and beside the
 * bitmap's byte and word boundaries, and include 1 byte and the largest packet. */
static void fast_path_edges_agree_with_a_byte_model(void **state)
{
    (void)state;
    static const uint32_t totals[] = {1,
                                      2,
                                      7,
                                      8,
                                      9,
                                      63,
                                      64,
                                      65,
                                      504,
                                      511,
                                      512,
                                      513,
                                      519,
                                      520,
                                      1023,
                                      1024,
                                      1025,
                                      4095,
                                      4096,
                                      4097,
                                      4104,
                                      9000,
                                      ZHTP_WIRE_FRAG_MAX_TOTAL};
    static uint8_t pkt[ZHTP_WIRE_FRAG_MAX_TOTAL], have[ZHTP_WIRE_FRAG_MAX_TOTAL],
        mine[ZHTP_WIRE_FRAG_MAX_TOTAL], frag[ZHTP_WIRE_FRAG_MAX_TOTAL];
    zhtp_wire_reasm *ra;
    assert_int_equal(zhtp_wire_reasm_new(&ra, NULL), 0);
    zt_rng r;
    zt_rng_seed(&r, 901);
    uint16_t tag = 0;
    size_t completed = 0, dropped = 0, dups = 0, accepted_changes = 0;
    for (size_t ti = 0; ti < sizeof totals / sizeof totals[0]; ti++) {
        uint32_t total = totals[ti], blocks = (total + 7) / 8;
        for (int round = 0; round < 60; round++) {
            tag++;
            zt_rng_bytes(&r, pkt, total);
            memset(have, 0, total);
            size_t n_have = 0;
            for (int step = 0;; step++) {
                assert_true(step < 100000);
                /* short ranges mostly, sometimes up to the whole packet */
                uint32_t b0 = (uint32_t)zt_rng_below(&r, blocks);
                uint32_t span = zt_rng_below(&r, 4) ? 24 : blocks;
                uint32_t nb =
                    1 + (uint32_t)zt_rng_below(&r, blocks - b0 < span ? blocks - b0 : span);
                uint32_t off = b0 * 8;
                size_t n = b0 + nb == blocks ? total - off : (size_t)nb * 8;
                memcpy(frag, pkt + off, n);
                int change = zt_rng_below(&r, 8) == 0;
                size_t at = off + zt_rng_below(&r, n);
                if (change)
                    frag[at - off] ^= 0x40;
                /* the model: every byte present must equal the fragment's (an accepted
                 * change earlier makes later unchanged fragments disagree there too) */
                bool dup = true, disagree = false;
                for (size_t j = off; j < off + n; j++) {
                    dup = dup && have[j];
                    disagree = disagree || (have[j] && mine[j] != frag[j - off]);
                }
                uint8_t fb[ZHTP_WIRE_FRAG_MAX_TOTAL + 8];
                size_t fl = frame(fb, tag, total, off, frag, n);
                const uint8_t *out = NULL;
                zhtp_ssize got = zhtp_wire_reasm_feed(ra, 1, fb, fl, 0, &out);
                if (disagree) {
                    assert_int_equal(got, ZHTP_ERR_WIRE_FRAGMENT);
                    dropped++;
                    zhtp_wire_reasm_stats st;
                    zhtp_wire_reasm_get_stats(ra, &st);
                    assert_int_equal(st.packets_total, 0);
                    break;
                }
                for (size_t j = off; j < off + n; j++) {
                    if (!have[j]) {
                        have[j] = 1;
                        mine[j] = frag[j - off];
                        n_have++;
                    }
                }
                dups += dup;
                accepted_changes += change;
                if (n_have < total) {
                    assert_int_equal(got, ZHTP_ERR_AGAIN);
                    continue;
                }
                assert_int_equal(got, (zhtp_ssize)total);
                assert_memory_equal(out, mine, total);
                completed++;
                break;
            }
        }
    }
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.packets_total, 0);
    print_message("# %zu completed, %zu dropped on a changed byte, %zu duplicates, %zu changes "
                  "accepted where nothing was present\n",
                  completed, dropped, dups, accepted_changes);
    assert_true(completed > 100 && dropped > 100 && dups > 100 && accepted_changes > 100);
    zhtp_wire_reasm_free(ra);
}

/* A single block already present anywhere inside a wide fragment (every position of a
 * 513-block packet: every bit of every bitmap byte and word) is compared: changed, the packet
 * is dropped; equal, it completes. */
static void one_present_block_anywhere_in_a_wide_fragment_is_compared(void **state)
{
    (void)state;
    enum { TOTAL = 4100, BLOCKS = (TOTAL + 7) / 8 };
    static uint8_t p[TOTAL], q[TOTAL];
    for (size_t i = 0; i < TOTAL; i++)
        p[i] = (uint8_t)(i * 7 + (i >> 8));
    zhtp_wire_reasm *ra;
    assert_int_equal(zhtp_wire_reasm_new(&ra, NULL), 0);
    const uint8_t *out;
    for (uint32_t b = 0; b < BLOCKS; b++) {
        uint32_t off = b * 8, n = off + 8 <= TOTAL ? 8 : TOTAL - off;
        /* changed: the last byte of block b differs in the wide fragment */
        uint16_t tag = (uint16_t)(2 * b);
        assert_int_equal(feed_part(ra, 1, tag, p, TOTAL, off, n, 0, &out),
                         TOTAL == n ? (zhtp_ssize)TOTAL : ZHTP_ERR_AGAIN);
        memcpy(q, p, TOTAL);
        q[off + n - 1] ^= 1;
        assert_int_equal(feed_part(ra, 1, tag, q, TOTAL, 0, TOTAL, 0, &out),
                         ZHTP_ERR_WIRE_FRAGMENT);
        /* equal: completes with the bytes */
        tag++;
        assert_int_equal(feed_part(ra, 1, tag, p, TOTAL, off, n, 0, &out), ZHTP_ERR_AGAIN);
        assert_int_equal(feed_part(ra, 1, tag, p, TOTAL, 0, TOTAL, 0, &out), TOTAL);
        assert_memory_equal(out, p, TOTAL);
    }
    zhtp_wire_reasm_stats st;
    zhtp_wire_reasm_get_stats(ra, &st);
    assert_int_equal(st.completed, BLOCKS);
    assert_int_equal(st.rejected, BLOCKS);
    zhtp_wire_reasm_free(ra);
}

/* Entries expire oldest first even when the caller's clock steps back: a later entry's
 * deadline is never before an earlier one's, so none is left behind the head. */
static void a_clock_stepping_back_delays_no_expiry(void **state)
{
    (void)state;
    zhtp_wire_reasm_config cfg = {.timeout_ns = 1000};
    zhtp_wire_reasm *ra;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    uint8_t p[64] = {0};
    const uint8_t *out;
    assert_int_equal(feed_part(ra, 1, 1, p, 64, 0, 8, 5000, &out), ZHTP_ERR_AGAIN);
    assert_int_equal(feed_part(ra, 1, 2, p, 64, 0, 8, 100, &out), ZHTP_ERR_AGAIN); /* back */
    assert_int_equal(zhtp_wire_reasm_next_deadline(ra), 6000);
    assert_int_equal(zhtp_wire_reasm_tick(ra, 5999), 0);
    assert_int_equal(zhtp_wire_reasm_tick(ra, 6000), 2);
    assert_int_equal(zhtp_wire_reasm_next_deadline(ra), ZHTP_TIME_NEVER);
    zhtp_wire_reasm_free(ra);
}

/* ---- allocation failure injection ---- */

/* A fixed scenario: 3 peers, 6 packets, interleaved, one eviction. Feeds a fragment again
 * after ZHTP_ERR_NOMEM (as a link retransmission would). Returns completed packets. */
static int scenario(counting *c, bool *saw_nomem)
{
    zhtp_mem mem = {c_alloc, c_free, c};
    zhtp_wire_reasm_config cfg = {0};
    cfg.mem = &mem;
    cfg.max_packets_per_peer = 2;
    zhtp_wire_reasm *ra;
    int err = zhtp_wire_reasm_new(&ra, &cfg);
    if (err) {
        assert_int_equal(err, ZHTP_ERR_NOMEM);
        assert_int_equal(c->live_bytes, 0);
        *saw_nomem = true;
        return -1;
    }
    size_t fixed = c->live_bytes;
    static uint8_t p[3000];
    for (size_t i = 0; i < sizeof p; i++)
        p[i] = (uint8_t)(i * 7);
    int completed = 0;
    for (int round = 0; round < 4; round++) {
        for (uint64_t peer = 0; peer < 3; peer++) {
            for (uint16_t tag = 0; tag < 2 + (peer == 2); tag++) {
                uint32_t total = 1000 + 500 * tag;
                uint32_t off = (uint32_t)round * 400;
                if (off >= total)
                    continue;
                size_t n = total - off < 400 ? total - off : 400;
                const uint8_t *out;
                zhtp_ssize got;
                for (;;) {
                    got = feed_part(ra, peer, tag, p, total, off, n, 0, &out);
                    zhtp_wire_reasm_stats st;
                    zhtp_wire_reasm_get_stats(ra, &st);
                    assert_true(c->live_bytes == fixed + st.bytes_total);
                    if (got != ZHTP_ERR_NOMEM)
                        break;
                    *saw_nomem = true;
                }
                if (got > 0) {
                    assert_memory_equal(out, p, (size_t)got);
                    completed++;
                } else if (got != ZHTP_ERR_AGAIN) {
                    /* peer 2's tag 0 was evicted by its tag 2 */
                    assert_int_equal(got, ZHTP_ERR_WIRE_FRAGMENT_LATE);
                }
            }
        }
    }
    zhtp_wire_reasm_free(ra);
    assert_int_equal(c->live_bytes, 0);
    assert_int_equal(c->live_count, 0);
    return completed;
}

static void every_allocation_failure_is_nomem_without_leak(void **state)
{
    counting c = {0};
    bool saw = false;
    int clean = scenario(&c, &saw);
    assert_false(saw);
    long total_calls = c.calls;
    assert_true(total_calls >= 8);
    for (long n = 1; n <= total_calls; n++) {
        counting f = {0};
        f.fail_at = n;
        saw = false;
        int got = scenario(&f, &saw);
        assert_true(saw);
        if (got >= 0)
            assert_int_equal(got, clean); /* a retried fragment loses nothing */
    }
    print_message("# %ld allocation failure points checked, %d packets each\n", total_calls, clean);
}

static void bad_config_and_oversized_claims_are_refused(void **state)
{
    zhtp_wire_reasm *ra;
    zhtp_wire_reasm_config cfg = {0};
    cfg.max_bytes_per_peer = 10, cfg.max_bytes_total = 5;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), ZHTP_ERR_INVAL);
    memset(&cfg, 0, sizeof cfg);
    cfg.max_packet_len = 1000;
    assert_int_equal(zhtp_wire_reasm_new(&ra, &cfg), 0);
    uint8_t p[1008] = {0};
    const uint8_t *out;
    assert_int_equal(feed_part(ra, 1, 1, p, 1001, 0, 8, 0, &out), ZHTP_ERR_WIRE_REASSEMBLY_FULL);
    assert_int_equal(feed_part(ra, 1, 1, p, 1000, 0, 1000, 0, &out), 1000);
    uint8_t junk[3] = {0x80, 0, 0};
    assert_int_equal(zhtp_wire_reasm_feed(ra, 1, junk, 3, 0, &out), ZHTP_ERR_WIRE_TRUNCATED);
    zhtp_wire_reasm_free(ra);
    zhtp_wire_reasm_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(overlapping_fragments_must_agree),
        cmocka_unit_test(evicted_packets_are_not_resurrected),
        cmocka_unit_test(partial_packets_expire_on_the_virtual_clock),
        cmocka_unit_test(memory_bounds_hold_under_a_flood),
        cmocka_unit_test(reassembly_matches_a_dumb_model),
        cmocka_unit_test(fast_path_edges_agree_with_a_byte_model),
        cmocka_unit_test(one_present_block_anywhere_in_a_wide_fragment_is_compared),
        cmocka_unit_test(a_clock_stepping_back_delays_no_expiry),
        cmocka_unit_test(every_allocation_failure_is_nomem_without_leak),
        cmocka_unit_test(bad_config_and_oversized_claims_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
