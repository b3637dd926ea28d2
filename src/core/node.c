/* The sans-I/O node core: links, neighbours, framing, routing integration, forwarding and the
 * end-to-end message layer. Contract: include/zhtp/node.h; design and gaps: docs/node.md. */
#include <string.h>

#include "locator.h"
#include "zhtp/dht.h"
#include "zhtp/node.h"
#include "zhtp/session.h"
#include "zhtp/wire.h"

/* DATA channels of the end-to-end layer (inside the DATA payload, so an end-to-end session
 * will seal them together with the body). */
enum {
    CH_MESSAGE = 1,  /* unreliable application message */
    CH_ACK = 2,      /* body: u64 big-endian message id being acknowledged */
    CH_RELIABLE = 3, /* application message that wants an ACK */
    CH_E2E = 4,      /* body: a whole inner packet of the end-to-end session */
    /* Not a channel on the wire: DATA subtype IPV6 (channel 0), a tunnelled IPv6 packet. The
     * send path takes it as a channel so that IPv6 rides the same end-to-end session. */
    CH_IP6 = 0x10000,
};

/* At most this many IPv6 packets wait for an end-to-end session at once; more are dropped
 * (stats.drop_ip6): a TUN interface can produce packets far faster than a handshake ends, and
 * IPv6 is a datagram service, so the sender's own transport retries. */
#define IP6_PENDING_MAX 64

/* Resolving ids (destinations, IPv6 prefixes) by DHT lookups (docs/routing.md "Locators"). A
 * lookup that has not produced the id's locator after LOCATE_WAIT_NS counts as failed, and the
 * answer "not found" is then kept for NEGATIVE_NS; a stale destination is looked up again at
 * most every RELOCATE_NS. */
#define LOCATES_MAX         32
#define LOCATES_RUNNING_MAX 8
#define LOCATE_WAIT_NS      (3 * ZHTP_NS_PER_SEC)
#define NEGATIVE_NS         (5 * ZHTP_NS_PER_SEC)
#define RELOCATE_NS         (2 * ZHTP_NS_PER_SEC)
#define LOCATOR_CACHE_DEF   512
/* Self-lookups: the first soon after the first neighbour comes up (joins the DHT), a few more
 * while the tree settles, then every SELF_LOCATE_NS; also soon after our coordinates change,
 * so that the nodes closest to our id (those a lookup for us asks) hear the new ones first
 * hand. Never more often than SELF_LOCATE_MIN_NS. */
#define SELF_LOCATE_NS     (120 * ZHTP_NS_PER_SEC)
#define SELF_LOCATE_MIN_NS (5 * ZHTP_NS_PER_SEC)

typedef struct locate_entry {
    uint8_t key[ZHTP_NODE_ID_LEN]; /* an id, or a prefix padded with zeros */
    uint16_t bits;                 /* 256 for an id; 0: slot unused */
    zhtp_time started;             /* lookup running since; 0: none */
    zhtp_time neg_until;           /* "not found" answered until then */
} locate_entry;

/* route_packet's internal answer "a next hop exists but none meets the bound"; never
 * returned by the API (the origin's bound is NONE, forwarders count it and return ZHTP_OK). */
#define ERR_BOUND_UNMET (-9000)
#define RECENT_LEN      64 /* reliable (source, id) pairs remembered to suppress duplicates */
#define LOCAL_STACK     2048
#define VERSIONS_LEN    1

static const uint8_t our_versions[VERSIONS_LEN] = {ZHTP_WIRE_VERSION};

/* VERSION_MISMATCH replies per link: a burst of 4, then one per second. Even though the wire
 * helper refuses amplification (never a reply longer than the packet), a flood of
 * wrong-version packets should not turn us into a reflector at the flood's rate. */
#define VM_BURST   4
#define VM_COST_NS ZHTP_NS_PER_SEC

/* Pacing of narrow links: the driver is handed frames up to this much airtime ahead of now
 * (enough to keep a radio busy between wakeups, well under a modem queue of ~2 s); the rest
 * waits in the node, where superseded handshake frames can still be dropped and small frames
 * overtake fragments. */
#define PACE_AHEAD_NS   (ZHTP_NS_PER_SEC / 2)
#define NARROW_QUEUE_NS (6 * ZHTP_NS_PER_SEC)
/* NARROW_QUEUE_NS: the airtime a paced link may hold in the node's queue (queue_packet). */

typedef struct link {
    zhtp_link_id id;
    uint32_t mtu;
    zhtp_route_medium medium;
    zhtp_time next_beacon;
    bool narrow; /* packets to neighbours use compressed headers (link_is_narrow) */
    /* VERSION_MISMATCH replies sent on this link: token bucket in nanoseconds of credit
     * (one reply costs VM_COST_NS, credit accrues with time up to VM_BURST replies). */
    zhtp_time vm_credit;
    zhtp_time vm_last;
    /* Narrow links are paced (next_datagram): a frame is handed to the driver only once the
     * previous one has had its airtime at the medium's bandwidth, so a multi-second burst of
     * handshake fragments waits here, where it can be superseded and overtaken by small
     * frames, instead of overflowing the radio's queue. */
    zhtp_time tx_free;
    size_t q_bytes; /* bytes of this link's frames waiting in the node's queue */
} link;

typedef struct nbr {
    uint32_t link_idx;
    zhtp_addr addr;
    uint8_t id[ZHTP_NODE_ID_LEN];
    uint64_t rlink; /* the router's link id: unique for the node's life */
    zhtp_time last_heard;
    uint32_t caps;
    bool routed; /* announced to the router (link session authenticated) */
    /* Link loss estimate from the neighbour's keepalive beacons (one per beacon interval):
     * beacons heard and beacons missed (read off the gap since the previous one) in the
     * current window, the window's start, the last beacon's arrival, and the smoothed loss. */
    uint32_t heard, missed;
    zhtp_time window_start, last_beacon;
    uint32_t loss_ppm;
    uint8_t repeat; /* copies of each unicast frame to this neighbour (1..4) */
    bool measured;
    /* Compressed-header context of the link session (docs/protocol.md section 8), keyed by
     * the receiver index so that a new session starts from "none". tx_*: the index we seal
     * to and the last counter we sent under it; rx_*: our index and the highest counter
     * authenticated under it. tx_count forces a full 8-byte counter every
     * COUNTER_RESYNC packets, so a burst of losses cannot desynchronise the receiver
     * for good. */
    uint32_t tx_index, rx_index;
    uint64_t tx_base, rx_base;
    uint32_t tx_count;
} nbr;

typedef struct frame {
    struct frame *next;
    zhtp_link_id link;
    zhtp_addr to;
    bool frag;  /* a fragment: on a narrow link, whole small frames overtake it */
    uint8_t hs; /* handshake operation it carries (superseded by the next of that kind), or 0 */
    uint64_t hs_key; /* end-to-end handshakes: hash of (origin, destination); link ones 0 */
    size_t len;
    uint8_t data[];
} frame;

typedef struct event_entry {
    struct event_entry *next;
    zhtp_node_event ev;
    size_t alloc_len;
    uint8_t data[];
} event_entry;

typedef struct pending {
    struct pending *next;
    uint64_t msg_id;
    uint8_t dest[ZHTP_NODE_ID_LEN];
    zhtp_time deadline;
    zhtp_time rto;
    uint32_t attempts;
    bool reliable;
    bool wait_loc; /* waiting for the destination's locator (a DHT lookup is running) */
    bool ip6;      /* an IPv6 packet waiting for its end-to-end session (never retransmitted) */
    size_t len;
    uint8_t data[];
} pending;

struct zhtp_node {
    zhtp_node_config cfg;
    const zhtp_mem *mem;
    const zhtp_identity *identity;
    uint8_t self[ZHTP_NODE_ID_LEN];
    zhtp_router *router;
    zhtp_wire_reasm *reasm;
    zhtp_sessions *sess; /* NULL in insecure_plaintext mode */
    bool secure;

    link *links;
    size_t n_links, cap_links;
    nbr *nbrs;
    size_t n_nbrs, cap_nbrs;
    uint64_t next_rlink;

    frame *q_head, *q_tail;
    size_t q_bytes;
    event_entry *ev_head, *ev_tail, *ev_last;
    pending *pend;

    zhtp_dht *dht; /* NULL: configured without */
    loc_cache *locs;
    locate_entry locates[LOCATES_MAX];
    zhtp_time next_self_locate, last_self_locate;
    uint32_t self_locates;
    uint64_t router_changes_seen;
    bool loc_news; /* a locator arrived: pending messages waiting for one may go */
    zhtp_time now; /* of the current API call, for the DHT's locator hooks (which get none) */

    uint64_t next_msg_id;
    size_t n_ip6_pending;
    uint16_t next_frag_tag;
    uint64_t recent[RECENT_LEN];
    size_t recent_pos;
    zhtp_node_stats st;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void *nalloc(zhtp_node *n, size_t size)
{
    return zhtp_mem_alloc(n->mem, size);
}

static void nfree(zhtp_node *n, void *p, size_t size)
{
    if (p)
        zhtp_mem_free(n->mem, p, size);
}

static bool addr_eq(const zhtp_addr *a, const zhtp_addr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* Stable 64-bit name of a (link, address) pair for the reassembler (FNV-1a of the address). */
static uint64_t peer_key(uint32_t link_idx, const zhtp_addr *a)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < a->len; i++)
        h = (h ^ a->bytes[i]) * 16777619u;
    return ((uint64_t)link_idx << 32) | h;
}

static zhtp_time beacon_interval(const zhtp_node *n)
{
    return n->cfg.beacon_interval_ns;
}

static zhtp_time nbr_timeout(const zhtp_node *n)
{
    return n->cfg.beacon_interval_ns * n->cfg.beacon_misses;
}

static int find_link(const zhtp_node *n, zhtp_link_id id)
{
    for (size_t i = 0; i < n->n_links; i++)
        if (n->links[i].id == id)
            return (int)i;
    return -1;
}

static nbr *find_nbr(zhtp_node *n, uint32_t link_idx, const zhtp_addr *a)
{
    for (size_t i = 0; i < n->n_nbrs; i++)
        if (n->nbrs[i].link_idx == link_idx && addr_eq(&n->nbrs[i].addr, a))
            return &n->nbrs[i];
    return NULL;
}

static nbr *find_nbr_rlink(zhtp_node *n, uint64_t rlink)
{
    for (size_t i = 0; i < n->n_nbrs; i++)
        if (n->nbrs[i].rlink == rlink)
            return &n->nbrs[i];
    return NULL;
}

/* Grows an array of |elem| bytes to hold one more; the old array is freed on success only. */
static int grow(zhtp_node *n, void **arr, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return ZHTP_OK;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = nalloc(n, ncap * elem);
    if (!p)
        return ZHTP_ERR_NOMEM;
    if (*arr) {
        memcpy(p, *arr, count * elem);
        nfree(n, *arr, *cap * elem);
    }
    *arr = p;
    *cap = ncap;
    return ZHTP_OK;
}

/* ---- events ------------------------------------------------------------------------------ */

static int push_event(zhtp_node *n, const zhtp_node_event *ev, const uint8_t *data, size_t len)
{
    size_t sz = sizeof(event_entry) + len;
    event_entry *e = nalloc(n, sz);
    if (!e)
        return ZHTP_ERR_NOMEM;
    e->next = NULL;
    e->ev = *ev;
    e->alloc_len = sz;
    if (len)
        memcpy(e->data, data, len);
    e->ev.data = len ? e->data : NULL;
    e->ev.len = len;
    if (n->ev_tail)
        n->ev_tail->next = e;
    else
        n->ev_head = e;
    n->ev_tail = e;
    return ZHTP_OK;
}

int zhtp_node_next_event(zhtp_node *n, zhtp_node_event *ev)
{
    if (!n || !ev)
        return ZHTP_ERR_INVAL;
    if (n->ev_last) {
        nfree(n, n->ev_last, n->ev_last->alloc_len);
        n->ev_last = NULL;
    }
    event_entry *e = n->ev_head;
    if (!e)
        return ZHTP_ERR_AGAIN;
    n->ev_head = e->next;
    if (!n->ev_head)
        n->ev_tail = NULL;
    *ev = e->ev;
    n->ev_last = e; /* kept so ev->data stays valid until the next call */
    return ZHTP_OK;
}

/* ---- outgoing frames --------------------------------------------------------------------- */

static int queue_frame_kind(zhtp_node *n, zhtp_link_id link_id, const zhtp_addr *to,
                            const uint8_t *hdr, size_t hdr_len, const uint8_t *body,
                            size_t body_len, bool frag, uint8_t hs, uint64_t hs_key);

static void unlink_frame(zhtp_node *n, frame *prev, frame *f)
{
    int li = find_link(n, f->link);
    if (li >= 0)
        n->links[li].q_bytes -= f->len;
    if (prev)
        prev->next = f->next;
    else
        n->q_head = f->next;
    if (n->q_tail == f)
        n->q_tail = prev;
    n->q_bytes -= f->len;
}

/* A new handshake packet of operation |hs| to |to| on |link_id| makes the unsent frames of the
 * previous one of that kind useless (the session layer has moved to a new attempt and will not
 * accept a reply to the old one): they are dropped instead of occupying the link ahead of it. */
static void supersede_frames(zhtp_node *n, zhtp_link_id link_id, const zhtp_addr *to, uint8_t hs,
                             uint64_t hs_key)
{
    frame *prev = NULL;
    for (frame *f = n->q_head; f;) {
        frame *next = f->next;
        if (f->hs == hs && f->hs_key == hs_key && f->link == link_id && addr_eq(&f->to, to)) {
            unlink_frame(n, prev, f);
            n->st.tx_superseded++;
            nfree(n, f, sizeof(frame) + f->len);
        } else
            prev = f;
        f = next;
    }
}

/* Copies of each fragment of a |count|-fragment packet to a neighbour with frame loss |ppm|:
 * the fewest (1..4) for which the whole packet arrives with probability >= 95 %,
 * (1 - p^r)^count >= 0.95, but never fewer than the neighbour's per-frame repetition. A
 * 31-fragment handshake at 10 % loss needs 3 (97 %); 2 copies give 73 %, 1 gives 4 %. */
static unsigned fragment_repeat(uint32_t ppm, size_t count, unsigned base)
{
    double p = (double)ppm / 1e6;
    unsigned r = 1;
    for (; r < 4; r++) {
        double lost = 1.0;
        for (unsigned k = 0; k < r; k++)
            lost *= p;
        double ok = 1.0;
        for (size_t i = 0; i < count; i++)
            ok *= 1.0 - lost;
        if (ok >= 0.95)
            break;
    }
    return r > base ? r : base;
}

/* A frame of |len| bytes for the queue, contents to be written by the caller, then queued
 * with frame_push. NULL with *rc = ZHTP_OK when the queue is full (the frame is lost, like on
 * a full interface queue: not an error, counted in drop_queue), or *rc = ZHTP_ERR_NOMEM. */
static frame *frame_new(zhtp_node *n, zhtp_link_id link_id, const zhtp_addr *to, size_t len,
                        bool frag, uint8_t hs, uint64_t hs_key, int *rc)
{
    *rc = ZHTP_OK;
    if (n->q_bytes + len > n->cfg.max_queue_bytes) {
        n->st.drop_queue++;
        return NULL;
    }
    frame *f = nalloc(n, sizeof(frame) + len);
    if (!f) {
        *rc = ZHTP_ERR_NOMEM;
        return NULL;
    }
    f->next = NULL;
    f->link = link_id;
    f->to = *to;
    f->frag = frag;
    f->hs = hs;
    f->hs_key = hs_key;
    f->len = len;
    return f;
}

static void frame_push(zhtp_node *n, frame *f)
{
    if (n->q_tail)
        n->q_tail->next = f;
    else
        n->q_head = f;
    n->q_tail = f;
    n->q_bytes += f->len;
    int li = find_link(n, f->link);
    if (li >= 0)
        n->links[li].q_bytes += f->len;
}

static int queue_frame_kind(zhtp_node *n, zhtp_link_id link_id, const zhtp_addr *to,
                            const uint8_t *hdr, size_t hdr_len, const uint8_t *body,
                            size_t body_len, bool frag, uint8_t hs, uint64_t hs_key)
{
    int rc;
    frame *f = frame_new(n, link_id, to, hdr_len + body_len, frag, hs, hs_key, &rc);
    if (!f)
        return rc;
    if (hdr_len)
        memcpy(f->data, hdr, hdr_len);
    if (body_len)
        memcpy(f->data + hdr_len, body, body_len);
    frame_push(n, f);
    return ZHTP_OK;
}

/* Queues fragment |index| of |pkt|, built straight into its frame (no staging copy). Its
 * length follows docs/protocol.md section 9: every fragment but the last carries
 * floor((mtu - 8) / 8) * 8 bytes of data after its 8-byte header. */
static int queue_fragment(zhtp_node *n, const link *l, const zhtp_addr *to, const uint8_t *pkt,
                          size_t total, uint16_t tag, size_t index, uint8_t hs, uint64_t hs_key)
{
    size_t per = (l->mtu - ZHTP_WIRE_FRAG_HEADER_LEN) / 8 * 8;
    size_t off = index * per;
    size_t fl = ZHTP_WIRE_FRAG_HEADER_LEN + (total - off < per ? total - off : per);
    int rc;
    frame *f = frame_new(n, l->id, to, fl, true, hs, hs_key, &rc);
    if (!f)
        return rc;
    zhtp_ssize w = zhtp_wire_fragment_build(f->data, fl, pkt, total, l->mtu, tag, index);
    if (w != (zhtp_ssize)fl) {
        nfree(n, f, sizeof(frame) + fl);
        return w < 0 ? (int)w : ZHTP_ERR_INVAL; /* the length rule above and wire/ disagree */
    }
    frame_push(n, f);
    return ZHTP_OK;
}

/* Queues a whole packet, given as a header (full or compressed) and the rest, fragmented to
 * the link MTU. */
static int queue_packet_hs(zhtp_node *n, uint32_t link_idx, const zhtp_addr *to, const uint8_t *hdr,
                           size_t hdr_len, const uint8_t *rest, size_t rest_len, uint8_t hs,
                           uint64_t hs_key);

static int queue_packet(zhtp_node *n, uint32_t link_idx, const zhtp_addr *to, const uint8_t *hdr,
                        size_t hdr_len, const uint8_t *rest, size_t rest_len)
{
    return queue_packet_hs(n, link_idx, to, hdr, hdr_len, rest, rest_len, 0, 0);
}

/* |hs|: the handshake operation the packet carries (0: none); it supersedes the queued
 * frames of the previous one (supersede_frames). */
static int queue_packet_hs(zhtp_node *n, uint32_t link_idx, const zhtp_addr *to, const uint8_t *hdr,
                           size_t hdr_len, const uint8_t *rest, size_t rest_len, uint8_t hs,
                           uint64_t hs_key)
{
    const link *l = &n->links[link_idx];
    size_t total = hdr_len + rest_len;
    /* Lossy links: each frame goes out several times (see update_loss); the receiver drops
     * the copies (reassembly ignores duplicate fragments, the replay window repeated
     * packets). */
    const nbr *b = to->len ? find_nbr(n, link_idx, to) : NULL;
    unsigned rep = b && b->repeat > 1 ? b->repeat : 1;
    if (hs)
        supersede_frames(n, l->id, to, hs, hs_key);
    /* A paced link holds at most NARROW_QUEUE_NS of airtime here; a packet that does not fit
     * is dropped whole (a partly queued packet would only waste airtime). Like a router's
     * queue limit, this keeps stale retransmissions from building minutes of delay. */
    zhtp_ssize nfrag = total <= l->mtu ? 1 : zhtp_wire_fragment_count(total, l->mtu);
    if (l->narrow && l->medium.bandwidth_bps && nfrag > 0) {
        unsigned r = nfrag > 1 && b ? fragment_repeat(b->loss_ppm, (size_t)nfrag, rep) : rep;
        uint64_t bytes = (uint64_t)r * (total + (nfrag > 1 ? (uint64_t)nfrag * 8u : 0));
        uint64_t air = (l->q_bytes + bytes) * 8u * ZHTP_NS_PER_SEC / l->medium.bandwidth_bps;
        if (air > NARROW_QUEUE_NS) {
            n->st.drop_queue += (uint64_t)r * (uint64_t)nfrag;
            return ZHTP_OK;
        }
    }
    if (total <= l->mtu) {
        int rc = ZHTP_OK;
        for (unsigned k = 0; rc == ZHTP_OK && k < rep; k++)
            rc = queue_frame_kind(n, l->id, to, hdr, hdr_len, rest, rest_len, false, hs, hs_key);
        return rc;
    }

    /* Fragmentation needs the packet contiguous: it already is when it comes in one piece
     * (emit, the session layer), else it is joined in a copy. */
    const uint8_t *pkt = hdr;
    uint8_t *joined = NULL;
    if (rest_len) {
        joined = nalloc(n, total);
        if (!joined)
            return ZHTP_ERR_NOMEM;
        memcpy(joined, hdr, hdr_len);
        memcpy(joined + hdr_len, rest, rest_len);
        pkt = joined;
    }
    zhtp_ssize count = zhtp_wire_fragment_count(total, l->mtu);
    int rc = count < 0 ? (int)count : ZHTP_OK;
    if (b && count > 0)
        rep = fragment_repeat(b->loss_ppm, (size_t)count, rep);
    uint16_t tag = n->next_frag_tag++;
    /* Copies go in rounds (every fragment once, then again): a loss burst then costs
     * different copies of different fragments rather than all copies of one. */
    for (unsigned k = 0; rc == ZHTP_OK && k < rep; k++)
        for (zhtp_ssize i = 0; rc == ZHTP_OK && i < count; i++)
            rc = queue_fragment(n, l, to, pkt, total, tag, (size_t)i, hs, hs_key);
    if (joined)
        nfree(n, joined, total);
    return rc;
}

static void header_init(zhtp_node *n, zhtp_wire_header *h, uint8_t op, const uint8_t *target)
{
    memset(h, 0, sizeof *h);
    h->version = ZHTP_WIRE_VERSION;
    h->operation = op;
    h->hop_count = 0; /* hops taken so far: 0 at the origin (docs/protocol.md 3.1) */
    h->hop_limit = 1; /* link-local unless the caller routes it */
    h->route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    memcpy(h->sender, n->self, ZHTP_NODE_ID_LEN);
    if (target)
        memcpy(h->target, target, ZHTP_NODE_ID_LEN);
    h->message_id = n->next_msg_id++;
}

static bool state_usable(zhtp_conn_state st)
{
    return st == ZHTP_CONN_AUTHENTICATED || st == ZHTP_CONN_ACTIVE;
}

/* Narrow links carry compressed headers (docs/node.md "Header compression"): a link whose
 * MTU is below the IPv6 minimum of 1280 bytes (LoRa 222, BLE 247) or whose medium is slower
 * than 2 Mbit/s. There the 128-byte header would be most of a frame; on UDP/IP and WiFi the
 * full header costs nothing that matters and keeps packets self-describing. */
#define NARROW_MTU       1280u
#define NARROW_BANDWIDTH 2000000u
#define COUNTER_RESYNC   32u /* every 32nd compressed packet carries its full counter */

static bool link_is_narrow(uint32_t mtu, const zhtp_route_medium *m)
{
    return mtu < NARROW_MTU || m->bandwidth_bps < NARROW_BANDWIDTH;
}

/* Per-link short alias of a session index (docs/protocol.md section 8): both ends derive it
 * from the 32-bit index alone, so nothing is negotiated. A compressed header on a narrow link
 * carries the alias (1..255: the 1-byte receiver-index width) instead of the random index;
 * the receiver maps it back among the few indices it has live for that neighbour. */
static uint32_t index_alias(uint32_t index)
{
    return index % 255u + 1u;
}

#define OFF_RECEIVER_INDEX 96 /* of the full header (docs/protocol.md 3.1) */

static void put_u32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The receive index a 1-byte alias from neighbour |b| stands for: the last index we
 * authenticated from it first (the usual case), then our live session indices. 0: none
 * matches (the packet is dropped). A value of 256 or more is a real index, kept as is. */
static uint32_t alias_resolve(const zhtp_node *n, const nbr *b, uint32_t v)
{
    if (v > 255 || !n->secure)
        return v;
    if (b->rx_index && index_alias(b->rx_index) == v)
        return b->rx_index;
    zhtp_conn_info ci;
    if (zhtp_session_conn_info(n->sess, b->id, &ci) != ZHTP_OK)
        return 0;
    const uint32_t cand[3] = {ci.local_index_cur, ci.local_index_next, ci.local_index_prev};
    for (size_t i = 0; i < 3; i++)
        if (cand[i] && index_alias(cand[i]) == v)
            return cand[i];
    return 0;
}

/* Compresses the full packet in |buf| (|len| bytes, |cap| of space) in place for neighbour
 * |b| and advances the sender context. Returns the new length or a wire error. */
static zhtp_ssize compress_for(zhtp_node *n, nbr *b, uint8_t *buf, size_t len, size_t cap)
{
    zhtp_wire_header h;
    int rc = zhtp_wire_header_decode(&h, buf, len);
    if (rc != ZHTP_OK)
        return rc;
    bool sealed = (h.flags & ZHTP_WIRE_FLAG_SEALED) != 0;
    zhtp_wire_link_ctx ctx = {.version = ZHTP_WIRE_VERSION, .counter_base = ZHTP_WIRE_COUNTER_NONE};
    memcpy(ctx.sender_id, n->self, ZHTP_NODE_ID_LEN);
    memcpy(ctx.target_id, b->id, ZHTP_NODE_ID_LEN);
    /* A new session (other receiver index) or a resync point: base "none", which makes the
     * encoder send enough counter bytes for any receiver state. */
    if (sealed && b->tx_index == h.receiver_index && b->tx_count % COUNTER_RESYNC != 0)
        ctx.counter_base = b->tx_base;
    /* The 4-byte random index travels as its 1-byte alias; the receiver restores it before
     * the AEAD (whose associated data is the full header with the real index). */
    if (sealed)
        put_u32_at(buf + OFF_RECEIVER_INDEX, index_alias(h.receiver_index));
    zhtp_ssize cl = zhtp_wire_packet_compress(buf, cap, buf, len, &ctx);
    if (cl >= 0 && sealed) {
        b->tx_index = h.receiver_index;
        b->tx_base = h.counter;
        b->tx_count++;
    }
    return cl;
}

static bool is_handshake_op(uint8_t op)
{
    return op == ZHTP_WIRE_OP_HANDSHAKE_INIT || op == ZHTP_WIRE_OP_HANDSHAKE_RESPONSE ||
           op == ZHTP_WIRE_OP_COOKIE_REPLY;
}

/* The inner packet of a DATA packet whose body is on channel CH_E2E (header |h|, plaintext
 * payload |pt|, locator block included): a pointer into pt and its length, which runs to the
 * end of the payload (the DATA body is the payload's last field). NULL for anything else. */
static const uint8_t *e2e_inner_of(const zhtp_wire_header *h, const uint8_t *pt, size_t pt_len,
                                   size_t *in_len)
{
    if (h->operation != ZHTP_WIRE_OP_DATA)
        return NULL;
    if (h->flags & ZHTP_WIRE_FLAG_LOCATORS) {
        zhtp_wire_locators l;
        zhtp_ssize bl = zhtp_wire_locators_decode(&l, pt, pt_len);
        if (bl < 0)
            return NULL;
        pt += bl;
        pt_len -= (size_t)bl;
    }
    if (pt_len < ZHTP_WIRE_DATA_HEADER_LEN + ZHTP_WIRE_HEADER_LEN || pt[0] != ZHTP_WIRE_DATA_APP ||
        (((unsigned)pt[2] << 8) | pt[3]) != CH_E2E)
        return NULL;
    *in_len = pt_len - ZHTP_WIRE_DATA_HEADER_LEN;
    return pt + ZHTP_WIRE_DATA_HEADER_LEN;
}

/* The clear tail a link session may leave unencrypted in this packet (docs/protocol.md 3.2,
 * docs/sessions.md §5.1): when it is DATA carrying an end-to-end SEALED inner packet, which
 * is already ciphertext authenticated between origin and destination, everything of the
 * inner packet after its 128-byte header. The inner header stays in the encrypted prefix,
 * with the DATA sub-header and the locator block. 0: seal it all. */
static size_t e2e_clear_tail(const zhtp_wire_header *h, const uint8_t *pt, size_t pt_len)
{
    size_t in_len;
    const uint8_t *in = e2e_inner_of(h, pt, pt_len, &in_len);
    zhtp_wire_header ih;
    if (!in || zhtp_wire_header_decode(&ih, in, in_len) != ZHTP_OK ||
        !(ih.flags & ZHTP_WIRE_FLAG_SEALED) || zhtp_wire_packet_len(&ih) != in_len)
        return 0;
    return in_len - ZHTP_WIRE_HEADER_LEN;
}

/* A DATA packet whose channel-4 body is an end-to-end handshake packet (unsealed, so its
 * header is readable here, at the origin and at every relay): returns its operation and sets
 * |*key| to a hash of its (sender, target), so that a newer attempt between the same two
 * nodes supersedes the queued frames of the older one. 0 for anything else. */
static uint8_t e2e_handshake_of(const zhtp_wire_header *h, const uint8_t *pt, size_t pt_len,
                                uint64_t *key)
{
    size_t in_len;
    const uint8_t *in = e2e_inner_of(h, pt, pt_len, &in_len);
    if (!in || !is_handshake_op(in[5]))
        return 0;
    uint64_t x = 0xCBF29CE484222325ull; /* FNV-1a over sender and target (bytes 16..79) */
    for (size_t i = 16; i < 80; i++)
        x = (x ^ in[i]) * 0x100000001B3ull;
    *key = x;
    return in[5];
}

/* Sends one packet (header |h|, plaintext payload |pt|) to neighbour |b| on its link: sealed
 * under the link session in secure mode, else in clear. No usable session: dropped and
 * counted (the handshake is under way or failed; the router does not use such a link). */
static int emit(zhtp_node *n, nbr *b, zhtp_wire_header *h, const uint8_t *pt, size_t pt_len,
                zhtp_time now)
{
    h->payload_len = (uint32_t)pt_len;
    size_t cap = ZHTP_WIRE_HEADER_LEN + pt_len + ZHTP_WIRE_TAG_LEN;
    uint8_t stack[LOCAL_STACK];
    uint8_t *buf = cap <= sizeof stack ? stack : nalloc(n, cap);
    if (!buf)
        return ZHTP_ERR_NOMEM;
    int rc = ZHTP_OK;
    zhtp_ssize len;
    if (n->secure) {
        /* End-to-end ciphertext is not encrypted again per hop, except on narrow links, whose
         * compressed header has no room for clear_len (and whose packets are small). */
        size_t clear = n->links[b->link_idx].narrow ? 0 : e2e_clear_tail(h, pt, pt_len);
        len = zhtp_session_seal_packet_tail(n->sess, b->id, h, pt, pt_len, clear, buf, cap, now);
        if (len < 0 && len != ZHTP_ERR_NOMEM) {
            n->st.drop_no_session++;
            goto out;
        }
    } else {
        len = zhtp_wire_header_encode(buf, cap, h);
        if (len >= 0) {
            if (pt_len)
                memcpy(buf + len, pt, pt_len);
            len += (zhtp_ssize)pt_len;
        }
    }
    if (len < 0) {
        rc = (int)len;
        goto out;
    }
    if (n->links[b->link_idx].narrow) {
        len = compress_for(n, b, buf, (size_t)len, cap);
        if (len < 0) {
            rc = (int)len;
            goto out;
        }
    }
    uint64_t hs_key = 0;
    uint8_t hs = e2e_handshake_of(h, pt, pt_len, &hs_key);
    rc = queue_packet_hs(n, b->link_idx, &b->addr, buf, (size_t)len, NULL, 0, hs, hs_key);
    if (rc == ZHTP_OK && h->operation == ZHTP_WIRE_OP_DATA && pt_len >= ZHTP_WIRE_DATA_HEADER_LEN) {
        /* Overhead of one DATA packet on this link: everything but the DATA body (header,
         * DATA sub-header, tag); fragment headers and repeated copies are not included. */
        uint64_t over = (uint64_t)len - (pt_len - ZHTP_WIRE_DATA_HEADER_LEN);
        if (n->links[b->link_idx].narrow) {
            n->st.data_tx_compressed++;
            n->st.data_tx_compressed_overhead += over;
        } else {
            n->st.data_tx_full++;
            n->st.data_tx_full_overhead += over;
        }
    }
out:
    if (buf != stack)
        nfree(n, buf, cap);
    return rc;
}

/* Encodes payload |p| and sends it: to neighbour |b| through emit, or in clear to |to| on
 * |link_idx| when b is NULL (discovery, which runs before any session). */
static int send_packet(zhtp_node *n, nbr *b, uint32_t link_idx, const zhtp_addr *to,
                       zhtp_wire_header *h, const zhtp_wire_payload *p, size_t payload_max,
                       zhtp_time now)
{
    uint8_t stack[LOCAL_STACK];
    uint8_t *buf = stack;
    if (payload_max > sizeof stack) {
        buf = nalloc(n, payload_max);
        if (!buf)
            return ZHTP_ERR_NOMEM;
    }
    int rc;
    zhtp_ssize pl = zhtp_wire_payload_encode(buf, payload_max, p);
    if (pl < 0) {
        rc = (int)pl;
        goto out;
    }
    if (b) {
        rc = emit(n, b, h, buf, (size_t)pl, now);
        goto out;
    }
    h->payload_len = (uint32_t)pl;
    uint8_t hdr[ZHTP_WIRE_HEADER_LEN];
    zhtp_ssize hl = zhtp_wire_header_encode(hdr, sizeof hdr, h);
    rc = hl < 0 ? (int)hl : queue_packet(n, link_idx, to, hdr, (size_t)hl, buf, (size_t)pl);
out:
    if (buf != stack)
        nfree(n, buf, payload_max);
    return rc;
}

/* ---- PEER_DISCOVERY ---------------------------------------------------------------------- */

/* A SOLICIT asks the receivers to answer with a BEACON; both carry our public identity when
 * |with_identity| (first contact), keepalive beacons do not (2.5 KB each second is too much
 * for LoRa). */
static int send_discovery(zhtp_node *n, uint32_t link_idx, const zhtp_addr *to, uint8_t kind,
                          bool with_identity, const uint8_t *target, zhtp_time now)
{
    uint8_t ident[ZHTP_IDENTITY_PUBLIC_BYTES];
    size_t ident_len = 0;
    if (with_identity) {
        zhtp_ssize il =
            zhtp_identity_public_encode(ident, sizeof ident, zhtp_identity_get_public(n->identity));
        if (il < 0)
            return (int)il;
        ident_len = (size_t)il;
    }
    zhtp_wire_header h;
    header_init(n, &h, ZHTP_WIRE_OP_PEER_DISCOVERY, target);
    zhtp_wire_payload p = {.operation = ZHTP_WIRE_OP_PEER_DISCOVERY};
    p.u.peer_discovery.kind = kind;
    p.u.peer_discovery.capabilities = n->cfg.capabilities;
    p.u.peer_discovery.version_count = VERSIONS_LEN;
    p.u.peer_discovery.versions = our_versions;
    p.u.peer_discovery.identity.ptr = ident;
    p.u.peer_discovery.identity.len = ident_len;
    return send_packet(n, NULL, link_idx, to, &h, &p, 8 + VERSIONS_LEN + ident_len, now);
}

static int nbr_route_up(zhtp_node *n, nbr *b, zhtp_time now)
{
    if (b->routed)
        return ZHTP_OK;
    int rc = zhtp_router_link_up(n->router, b->rlink, b->id, &n->links[b->link_idx].medium, now);
    if (rc != ZHTP_OK)
        return rc;
    b->routed = true;
    if (n->dht) {
        /* An authenticated neighbour is a DHT contact; the first one starts our joining. */
        (void)zhtp_dht_add_contact(n->dht, b->id, now); /* NOMEM: its messages add it later */
        if (n->next_self_locate == ZHTP_TIME_NEVER)
            n->next_self_locate = now + ZHTP_NS_PER_SEC;
    }
    zhtp_node_event ev = {.type = ZHTP_NODE_EV_NEIGHBOUR_UP, .link = n->links[b->link_idx].id};
    memcpy(ev.peer, b->id, ZHTP_NODE_ID_LEN);
    (void)push_event(n, &ev, NULL, 0);
    return ZHTP_OK;
}

static void nbr_remove(zhtp_node *n, size_t i, zhtp_time now)
{
    nbr *b = &n->nbrs[i];
    zhtp_node_event ev = {.type = ZHTP_NODE_EV_NEIGHBOUR_DOWN, .link = n->links[b->link_idx].id};
    memcpy(ev.peer, b->id, ZHTP_NODE_ID_LEN);
    bool was_routed = b->routed;
    if (was_routed)
        (void)zhtp_router_link_down(n->router, b->rlink, now);
    /* A neighbour that comes back may have restarted: start its session afresh. */
    if (n->secure)
        (void)zhtp_session_disconnect(n->sess, b->id, now);
    n->nbrs[i] = n->nbrs[--n->n_nbrs];
    if (was_routed)
        (void)push_event(n, &ev, NULL, 0); /* on NOMEM the event is lost; the state is right */
}

/* The node with the smaller id dials, so two neighbours never race two handshakes. */
static int maybe_connect(zhtp_node *n, nbr *b, zhtp_time now)
{
    if (!n->secure || b->routed || memcmp(n->self, b->id, ZHTP_NODE_ID_LEN) > 0)
        return ZHTP_OK;
    zhtp_conn_state st = zhtp_session_state(n->sess, b->id);
    if (st != ZHTP_CONN_DISCONNECTED && st != ZHTP_CONN_FAILED && st != ZHTP_CONN_LOST)
        return ZHTP_OK;
    int rc = zhtp_session_connect(n->sess, b->id, n->links[b->link_idx].id, &b->addr, now);
    return rc == ZHTP_ERR_NOMEM ? rc : ZHTP_OK;
}

static int on_discovery(zhtp_node *n, uint32_t link_idx, const zhtp_addr *from,
                        const zhtp_wire_header *h, const zhtp_wire_peer_discovery *d, zhtp_time now)
{
    if (memcmp(h->sender, n->self, ZHTP_NODE_ID_LEN) == 0)
        return ZHTP_OK; /* our own broadcast echoed back */
    nbr *b = find_nbr(n, link_idx, from);
    if (b && memcmp(b->id, h->sender, ZHTP_NODE_ID_LEN) != 0) {
        /* A different node now answers at this address: forget the old one first. */
        nbr_remove(n, (size_t)(b - n->nbrs), now);
        b = NULL;
    } else if (b && d->kind == ZHTP_WIRE_DISCOVERY_SOLICIT && d->identity.len != 0) {
        /* A neighbour we know asks who we are: it has restarted or lost us, so whatever
         * session we hold with it is dead on its side. Without this, when it is the one with
         * the larger id (so it does not dial), we would keep sealing with the dead session and
         * its keepalives would keep that session from ever timing out. Discovery is not
         * authenticated, so a sender that can spoof this neighbour's address can force a new
         * handshake; it could already drop our packets. */
        nbr_remove(n, (size_t)(b - n->nbrs), now);
        b = NULL;
    }
    if (!b) {
        if (d->identity.len == 0) {
            /* Keepalive from a node we do not know (we restarted, or lost it): ask it for
             * its identity. */
            return send_discovery(n, link_idx, from, ZHTP_WIRE_DISCOVERY_SOLICIT, true, h->sender,
                                  now);
        }
        /* Untrusted: the identity must parse and hash to the claimed node id. */
        zhtp_identity_public pub;
        int rc = zhtp_identity_check_node_id(&pub, d->identity.ptr, d->identity.len, h->sender);
        if (rc != ZHTP_OK) {
            n->st.rx_bad++;
            return rc;
        }
        if (n->secure) {
            rc = zhtp_session_add_peer_identity(n->sess, &pub);
            if (rc != ZHTP_OK)
                return rc;
        }
        rc = grow(n, (void **)&n->nbrs, &n->cap_nbrs, n->n_nbrs, sizeof(nbr));
        if (rc != ZHTP_OK)
            return rc;
        b = &n->nbrs[n->n_nbrs];
        memset(b, 0, sizeof *b);
        b->link_idx = link_idx;
        b->addr = *from;
        memcpy(b->id, h->sender, ZHTP_NODE_ID_LEN);
        b->rlink = n->next_rlink;
        b->last_heard = now;
        b->window_start = now;
        b->repeat = 1;
        b->tx_base = b->rx_base = ZHTP_WIRE_COUNTER_NONE;
        /* Without sessions the neighbour is usable at once; with them, once authenticated. */
        if (!n->secure) {
            rc = nbr_route_up(n, b, now);
            if (rc != ZHTP_OK)
                return rc;
        }
        n->next_rlink++;
        n->n_nbrs++;
    }
    b->last_heard = now;
    b->caps = d->capabilities;
    if (d->kind == ZHTP_WIRE_DISCOVERY_BEACON && d->identity.len == 0) {
        /* A gap of about k intervals since the previous beacon means k - 1 were lost.
         * Rounding to the nearest interval absorbs scheduling jitter and drift of up to half
         * an interval; counting beacons per fixed window did not: a sender whose timer ran a
         * few ms late per beacon put 7 beacons into some 8-interval windows, read as 12.5 %
         * loss, which tripled every fragment on a clean link. */
        if (b->last_beacon != 0 && now > b->last_beacon) {
            zhtp_time iv = beacon_interval(n);
            uint64_t k = (now - b->last_beacon + iv / 2) / iv;
            if (k > 1)
                b->missed += (uint32_t)(k - 1 < 64 ? k - 1 : 64);
        }
        b->last_beacon = now;
        b->heard++;
    }
    int rc = maybe_connect(n, b, now);
    if (rc == ZHTP_OK && d->kind == ZHTP_WIRE_DISCOVERY_SOLICIT)
        rc = send_discovery(n, link_idx, from, ZHTP_WIRE_DISCOVERY_BEACON, true, h->sender, now);
    return rc;
}

/* ---- routing ----------------------------------------------------------------------------- */

/* Drains the router's announcements into ROUTING packets, one per neighbour link. */
static int pump_router(zhtp_node *n, zhtp_time now)
{
    uint8_t stack[1024];
    for (;;) {
        zhtp_route_link_id rl;
        uint8_t *buf = stack;
        size_t cap = sizeof stack;
        zhtp_ssize len = zhtp_router_next_message(n->router, &rl, buf, cap, now);
        if (len == ZHTP_ERR_NOBUF) {
            cap = ZHTP_ROUTE_ANNOUNCE_LEN(ZHTP_ROUTE_MAX_DEPTH);
            buf = nalloc(n, cap);
            if (!buf)
                return ZHTP_ERR_NOMEM;
            len = zhtp_router_next_message(n->router, &rl, buf, cap, now);
        }
        int rc = ZHTP_OK;
        if (len >= 0) {
            nbr *b = find_nbr_rlink(n, rl);
            if (b) {
                zhtp_wire_header h;
                header_init(n, &h, ZHTP_WIRE_OP_ROUTING, b->id);
                zhtp_wire_payload p = {.operation = ZHTP_WIRE_OP_ROUTING};
                p.u.routing.tlv_count = 1;
                p.u.routing.tlv[0].type = ZHTP_WIRE_ROUTING_ANNOUNCE;
                p.u.routing.tlv[0].value.ptr = buf;
                p.u.routing.tlv[0].value.len = (size_t)len;
                rc = send_packet(n, b, 0, NULL, &h, &p, (size_t)len + 6, now);
            }
        }
        if (buf != stack)
            nfree(n, buf, cap);
        if (len == ZHTP_ERR_AGAIN)
            return ZHTP_OK;
        if (len < 0)
            return (int)len;
        if (rc != ZHTP_OK)
            return rc;
    }
}

static int on_routing(zhtp_node *n, nbr *b, const zhtp_wire_routing *rt, zhtp_time now)
{
    for (size_t i = 0; i < rt->tlv_count; i++) {
        if (rt->tlv[i].type != ZHTP_WIRE_ROUTING_ANNOUNCE)
            continue; /* other types are for later versions of the router */
        int rc =
            zhtp_router_recv(n->router, b->rlink, rt->tlv[i].value.ptr, rt->tlv[i].value.len, now);
        if (rc == ZHTP_ERR_NOMEM)
            return rc;
        if (rc != ZHTP_OK) {
            n->st.rx_bad++;
            return rc;
        }
    }
    return ZHTP_OK;
}

/* ---- DATA: origin, forwarding, delivery ---------------------------------------------------- */

static bool is_neighbour_id(const zhtp_node *n, const uint8_t *id)
{
    for (size_t i = 0; i < n->n_nbrs; i++)
        if (memcmp(n->nbrs[i].id, id, ZHTP_NODE_ID_LEN) == 0)
            return true;
    return false;
}

static void data_payload(zhtp_wire_payload *p, uint32_t channel, const uint8_t *body,
                         size_t body_len)
{
    memset(p, 0, sizeof *p);
    p->operation = ZHTP_WIRE_OP_DATA;
    p->u.data.subtype = channel == CH_IP6 ? ZHTP_WIRE_DATA_IPV6 : ZHTP_WIRE_DATA_APP;
    p->u.data.channel = channel == CH_IP6 ? 0 : (uint16_t)channel;
    p->u.data.body.ptr = body;
    p->u.data.body.len = body_len;
}

/* ---- locators: who is where (docs/routing.md "Locators") ----------------------------------- */

/* The coordinates the node knows for |id|: its own, a neighbour's (as announced), or the
 * locator cache's. */
static bool coords_of_ex(const zhtp_node *n, const uint8_t *id, uint16_t *ports, size_t *depth,
                         bool *stale, zhtp_time now)
{
    *stale = false;
    if (memcmp(id, n->self, ZHTP_NODE_ID_LEN) == 0) {
        const uint16_t *p = zhtp_router_coords(n->router, depth);
        if (*depth > LOC_MAX_DEPTH)
            return false;
        if (*depth)
            memcpy(ports, p, *depth * sizeof *ports);
        return true;
    }
    size_t nn = zhtp_router_neighbour_count(n->router);
    for (size_t i = 0; i < nn; i++) {
        zhtp_route_nbr_info info;
        if (zhtp_router_neighbour_get(n->router, i, &info) == ZHTP_OK && info.has_info &&
            memcmp(info.id, id, ZHTP_NODE_ID_LEN) == 0)
            return zhtp_router_neighbour_coords(n->router, i, ports, LOC_MAX_DEPTH, depth) ==
                   ZHTP_OK;
    }
    return n->locs && loc_cache_get(n->locs, id, ports, LOC_MAX_DEPTH, depth, stale, now);
}

/* Known and not suspected stale. */
static bool coords_of(const zhtp_node *n, const uint8_t *id, uint16_t *ports, size_t *depth,
                      zhtp_time now)
{
    bool stale;
    return coords_of_ex(n, id, ports, depth, &stale, now) && !stale;
}

/* The router's lookup (packets without a locator block): the cache when its entry is not
 * suspected stale, else the driver's lookup (the simulator's oracle, zhtpd's operator hints),
 * else a suspect entry (better than nothing while a new lookup runs). */
static int node_lookup(void *ud, const uint8_t id[ZHTP_NODE_ID_LEN], uint16_t *ports, size_t cap,
                       size_t *depth)
{
    zhtp_node *n = ud;
    bool stale = false;
    bool have = n->locs && loc_cache_get(n->locs, id, ports, cap, depth, &stale, n->now);
    if (have && !stale)
        return ZHTP_OK;
    if (n->cfg.lookup && n->cfg.lookup(n->cfg.user_data, id, ports, cap, depth) == ZHTP_OK)
        return ZHTP_OK;
    return have && loc_cache_get(n->locs, id, ports, cap, depth, &stale, n->now)
               ? ZHTP_OK
               : ZHTP_ERR_NOTFOUND;
}

static void node_rng(void *ud, uint8_t *out, size_t len)
{
    zhtp_node *n = ud;
    n->cfg.rng(n->cfg.user_data, out, len);
}

/* DHT locator hooks: a locator is depth u8 | ports u16[depth] (big-endian). */
static size_t hook_loc_get(void *ud, const uint8_t id[ZHTP_DHT_ID_LEN], uint8_t *out, size_t cap)
{
    zhtp_node *n = ud;
    uint16_t ports[LOC_MAX_DEPTH];
    size_t depth;
    if (!coords_of(n, id, ports, &depth, n->now) || 1 + 2 * depth > cap)
        return 0;
    out[0] = (uint8_t)depth;
    for (size_t i = 0; i < depth; i++) {
        out[1 + 2 * i] = (uint8_t)(ports[i] >> 8);
        out[2 + 2 * i] = (uint8_t)ports[i];
    }
    return 1 + 2 * depth;
}

static void hook_loc_put(void *ud, const uint8_t id[ZHTP_DHT_ID_LEN], const uint8_t *loc,
                         size_t len)
{
    zhtp_node *n = ud;
    /* Untrusted (a NODES answer): well-formed or ignored. A wrong one misroutes packets to
     * that id, which its end-to-end session then refuses: a denial of service, no more. */
    if (len < 1 || loc[0] > LOC_MAX_DEPTH || len != 1u + 2u * loc[0])
        return;
    uint16_t ports[LOC_MAX_DEPTH];
    for (size_t i = 0; i < loc[0]; i++) {
        ports[i] = (uint16_t)(loc[1 + 2 * i] << 8 | loc[2 + 2 * i]);
        if (!ports[i])
            return;
    }
    if (memcmp(id, n->self, ZHTP_NODE_ID_LEN) != 0 &&
        loc_cache_put(n->locs, id, ports, loc[0], false, n->now))
        n->loc_news = true;
}

static locate_entry *locate_find(zhtp_node *n, const uint8_t *key, size_t bits)
{
    for (size_t i = 0; i < LOCATES_MAX; i++) {
        locate_entry *e = &n->locates[i];
        if (e->bits == bits && memcmp(e->key, key, ZHTP_NODE_ID_LEN) == 0)
            return e;
    }
    return NULL;
}

/* The id (prefix) was found: forget its lookup state. */
static void locate_clear(zhtp_node *n, const uint8_t *key, size_t bits)
{
    locate_entry *e = locate_find(n, key, bits);
    if (e)
        memset(e, 0, sizeof *e);
}

/* Asks the DHT for |key| (an id, or a prefix of |bits| bits padded with zeros: the nodes with
 * that prefix are the XOR-closest to it). Returns ZHTP_ERR_AGAIN (a lookup is running or was
 * started), ZHTP_ERR_NOTFOUND (a recent lookup found nothing: negative cache) or
 * ZHTP_ERR_NOMEM. */
static int locate_request(zhtp_node *n, const uint8_t *key, size_t bits, zhtp_time now)
{
    if (!n->dht)
        return ZHTP_ERR_NOTFOUND;
    locate_entry *e = locate_find(n, key, bits);
    if (e) {
        if (e->neg_until > now)
            return ZHTP_ERR_NOTFOUND;
        if (e->started && now - e->started < LOCATE_WAIT_NS)
            return ZHTP_ERR_AGAIN;
        if (e->started) {
            e->started = 0;
            e->neg_until = now + NEGATIVE_NS;
            return ZHTP_ERR_NOTFOUND;
        }
    } else {
        /* At most LOCATES_RUNNING_MAX lookups of ours at once: a burst of unknown
         * destinations (a TUN flood to random addresses) must not become a lookup storm. */
        size_t running = 0;
        for (size_t i = 0; i < LOCATES_MAX; i++)
            if (n->locates[i].started && now - n->locates[i].started < LOCATE_WAIT_NS)
                running++;
        if (running >= LOCATES_RUNNING_MAX)
            return ZHTP_ERR_AGAIN;
        /* a free slot, else the one whose state matters least (oldest) */
        e = &n->locates[0];
        for (size_t i = 0; i < LOCATES_MAX; i++) {
            locate_entry *c = &n->locates[i];
            if (!c->bits) {
                e = c;
                break;
            }
            zhtp_time tc = c->started > c->neg_until ? c->started : c->neg_until;
            zhtp_time te = e->started > e->neg_until ? e->started : e->neg_until;
            if (tc < te)
                e = c;
        }
    }
    int rc = zhtp_dht_locate(n->dht, key, now);
    if (rc == ZHTP_ERR_NOMEM)
        return rc;
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, ZHTP_NODE_ID_LEN);
    e->bits = (uint16_t)bits;
    e->started = now ? now : 1;
    n->st.locates++;
    return ZHTP_ERR_AGAIN;
}

/* The coordinates of |dest| for an originated packet: known now (ZHTP_OK), being looked up
 * (ZHTP_ERR_AGAIN, only if |may_locate|), or not found. */
static int resolve(zhtp_node *n, const uint8_t *dest, uint16_t *ports, size_t *depth,
                   bool may_locate, zhtp_time now)
{
    /* The same order as node_lookup: a sound cache entry, the driver, a suspect entry. */
    bool stale;
    if (coords_of_ex(n, dest, ports, depth, &stale, now) && !stale) {
        locate_clear(n, dest, 256);
        return ZHTP_OK;
    }
    if (n->cfg.lookup &&
        n->cfg.lookup(n->cfg.user_data, dest, ports, LOC_MAX_DEPTH, depth) == ZHTP_OK)
        return ZHTP_OK;
    if (coords_of_ex(n, dest, ports, depth, &stale, now))
        return ZHTP_OK;
    if (!may_locate)
        return ZHTP_ERR_NOTFOUND;
    return locate_request(n, dest, 256, now);
}

/* The destination's coordinates did not work (router dead end, resends unanswered): the
 * cached ones may be stale. The next hint may replace them, and a new lookup asks the nodes
 * closest to the id, which hear from it first hand (its self-lookups). */
static void relocate(zhtp_node *n, const uint8_t *dest, zhtp_time now)
{
    if (!n->dht || is_neighbour_id(n, dest))
        return;
    loc_cache_mark_stale(n->locs, dest);
    locate_entry *e = locate_find(n, dest, 256);
    if (e && e->started && now - e->started < RELOCATE_NS)
        return;
    if (e)
        memset(e, 0, sizeof *e);
    (void)locate_request(n, dest, 256, now);
}

/* A received packet's locator block: parsed, its source coordinates remembered first hand
 * (when we keep a cache), and |*pt|/|*len| advanced past it. ZHTP_OK or a decode error. */
static int strip_locators(zhtp_node *n, const zhtp_wire_header *h, const uint8_t **pt, size_t *len,
                          zhtp_time now)
{
    if (!(h->flags & ZHTP_WIRE_FLAG_LOCATORS))
        return ZHTP_OK;
    zhtp_wire_locators l;
    zhtp_ssize bl = zhtp_wire_locators_decode(&l, *pt, *len);
    if (bl < 0)
        return (int)bl;
    if (n->locs && l.src_depth <= LOC_MAX_DEPTH &&
        memcmp(h->sender, n->self, ZHTP_NODE_ID_LEN) != 0) {
        /* First hand but not end-to-end authenticated: relays on the path could alter it
         * (docs/dht.md "Over the mesh"). The destination id's session still checks who
         * answers. */
        uint16_t ports[LOC_MAX_DEPTH];
        zhtp_wire_locators_ports(ports, l.src_ports, l.src_depth);
        if (loc_cache_put(n->locs, h->sender, ports, l.src_depth, true, now))
            n->loc_news = true;
    }
    *pt += bl;
    *len -= (size_t)bl;
    return ZHTP_OK;
}

/* Next hop for a packet: by the coordinates of its locator block when it has one (no lookup),
 * else by the destination id (the router asks node_lookup for non-neighbours). */
static int next_hop(zhtp_node *n, const zhtp_wire_header *h, const uint8_t *pt, size_t pt_len,
                    uint32_t *bound, zhtp_route_hop *hop)
{
    if (h->flags & ZHTP_WIRE_FLAG_LOCATORS) {
        zhtp_wire_locators l;
        if (zhtp_wire_locators_decode(&l, pt, pt_len) < 0)
            return ZHTP_ERR_NOTFOUND;
        uint16_t ports[ZHTP_WIRE_LOCATOR_MAX_DEPTH];
        zhtp_wire_locators_ports(ports, l.dst_ports, l.dst_depth);
        return zhtp_router_next_hop(n->router, ports, l.dst_depth, h->target, bound, hop);
    }
    return zhtp_router_next_hop_id(n->router, h->target, bound, hop);
}

/* Sends (origin) or forwards a routed packet: header |h| (target = destination), payload |pt|.
 * The loop-freedom bound travels in the header: the origin's is ZHTP_ROUTE_BOUND_NONE, a
 * forwarder passes the received one to the router and writes the lowered one into the
 * packet it forwards (the header is resealed per link, so the change is authenticated).
 * Returns ZHTP_ERR_NOTFOUND when there is no next hop at all, ERR_BOUND_UNMET when a next hop
 * exists but none meets the packet's bound (stale state that would loop). */
static int route_packet(zhtp_node *n, zhtp_wire_header *h, const uint8_t *pt, size_t pt_len,
                        zhtp_time now)
{
    uint32_t bound = h->route_bound;
    zhtp_route_hop hop;
    int rc = next_hop(n, h, pt, pt_len, &bound, &hop);
    if (rc == ZHTP_ERR_NOTFOUND && h->route_bound != ZHTP_ROUTE_BOUND_NONE) {
        /* Tell "no route" from "the bound cannot be met" (only on this failure path). */
        uint32_t none = ZHTP_ROUTE_BOUND_NONE;
        zhtp_route_hop alt;
        if (next_hop(n, h, pt, pt_len, &none, &alt) == ZHTP_OK && !alt.is_local)
            return ERR_BOUND_UNMET;
    }
    if (rc != ZHTP_OK || hop.is_local)
        return ZHTP_ERR_NOTFOUND;
    nbr *b = find_nbr_rlink(n, hop.link);
    if (!b)
        return ZHTP_ERR_NOTFOUND;
    /* The origin sends "none" (docs/protocol.md 3.1: its own choice needs no bound, and a
     * first-hop header stays fully elidable on narrow links); forwarders write theirs. */
    if (h->hop_count > 0)
        h->route_bound = bound;
    return emit(n, b, h, pt, pt_len, now);
}

/* Originates a routed packet of operation |op| to |dest| with payload |pt|. With a DHT, a
 * packet to a non-neighbour starts with a locator block (our coordinates and the
 * destination's, docs/protocol.md 3.4), so that no forwarder needs a lookup and the
 * destination learns where we are. Returns ZHTP_ERR_AGAIN when the destination's coordinates
 * are being looked up (|may_locate|), ZHTP_ERR_NOTFOUND when unknown or unroutable. */
/* Room a caller of originate_room leaves in front of the payload: the largest locator block. */
#define LOC_ROOM ZHTP_WIRE_LOCATORS_LEN(LOC_MAX_DEPTH, LOC_MAX_DEPTH)

/* As originate, for a payload with |room| writable bytes in front of |pt|: a locator block
 * that fits is written there instead of copying the payload behind it (the end-to-end DATA
 * path, where the payload is a whole IPv6 packet of up to 64 KiB). */
static int originate_room(zhtp_node *n, const uint8_t *dest, uint8_t op, uint64_t msg_id,
                          uint8_t *pt, size_t pt_len, size_t room, bool may_locate, zhtp_time now);

static int originate(zhtp_node *n, const uint8_t *dest, uint8_t op, uint64_t msg_id,
                     const uint8_t *pt, size_t pt_len, bool may_locate, zhtp_time now)
{
    return originate_room(n, dest, op, msg_id, (uint8_t *)(uintptr_t)pt, pt_len, 0, may_locate,
                          now);
}

static int originate_room(zhtp_node *n, const uint8_t *dest, uint8_t op, uint64_t msg_id,
                          uint8_t *pt, size_t pt_len, size_t room, bool may_locate, zhtp_time now)
{
    zhtp_wire_header h;
    header_init(n, &h, op, dest);
    h.message_id = msg_id;
    h.hop_limit = n->cfg.hop_limit;
    uint8_t blk[ZHTP_WIRE_LOCATORS_LEN(LOC_MAX_DEPTH, LOC_MAX_DEPTH)];
    size_t bl = 0;
    bool by_locator = n->dht && !is_neighbour_id(n, dest);
    if (by_locator) {
        uint16_t dst[LOC_MAX_DEPTH], src[LOC_MAX_DEPTH];
        size_t dd, sd;
        int rc = resolve(n, dest, dst, &dd, may_locate, now);
        if (rc != ZHTP_OK) {
            if (rc != ZHTP_ERR_NOMEM)
                n->st.drop_no_locator++;
            return rc;
        }
        if (coords_of(n, n->self, src, &sd, now)) {
            zhtp_ssize l = zhtp_wire_locators_encode(blk, sizeof blk, src, sd, dst, dd);
            if (l > 0) {
                bl = (size_t)l;
                h.flags |= ZHTP_WIRE_FLAG_LOCATORS;
            }
        }
    }
    size_t total = bl + pt_len;
    uint8_t stack[LOCAL_STACK];
    uint8_t *buf = stack;
    bool copied = bl && bl > room; /* room == 0 for callers whose payload is read-only */
    if (bl && !copied) {
        buf = pt - bl;
        memcpy(buf, blk, bl);
    } else if (copied) {
        buf = total <= sizeof stack ? stack : nalloc(n, total);
        if (!buf)
            return ZHTP_ERR_NOMEM;
        memcpy(buf, blk, bl);
        if (pt_len)
            memcpy(buf + bl, pt, pt_len);
    }
    int rc = route_packet(n, &h, bl ? buf : pt, total, now);
    if (copied && buf != stack)
        nfree(n, buf, total);
    if (rc == ZHTP_ERR_NOTFOUND && by_locator) {
        /* Dead end: stale coordinates. Only the application's traffic starts a new lookup;
         * the DHT's own requests must not (each lookup's requests could start more). */
        if (may_locate)
            relocate(n, dest, now);
        else
            loc_cache_mark_stale(n->locs, dest);
    }
    return rc;
}

/* A DATA packet from this node to |dest| on |channel| (routed, sealed per link). */
static int send_data(zhtp_node *n, const uint8_t *dest, uint32_t channel, uint64_t msg_id,
                     const uint8_t *body, size_t body_len, zhtp_time now)
{
    size_t pl = ZHTP_WIRE_DATA_HEADER_LEN + body_len;
    uint8_t stack[LOCAL_STACK];
    uint8_t *buf = pl <= sizeof stack ? stack : nalloc(n, pl);
    if (!buf)
        return ZHTP_ERR_NOMEM;
    zhtp_wire_payload p;
    data_payload(&p, channel, body, body_len);
    zhtp_ssize el = zhtp_wire_payload_encode(buf, pl, &p);
    int rc = el < 0 ? (int)el
                    : originate(n, dest, ZHTP_WIRE_OP_DATA, msg_id, buf, (size_t)el, true, now);
    if (buf != stack)
        nfree(n, buf, pl);
    return rc;
}

/* Application-level send (messages, acks). In secure mode a neighbour is reached under the
 * link session (which is then also the end-to-end session); any other node through an inner
 * packet sealed by the end-to-end session, carried in a DATA packet on channel CH_E2E.
 * Returns ZHTP_ERR_AGAIN when that session is not up yet (a handshake was started). */
static int send_app(zhtp_node *n, const uint8_t *dest, uint32_t channel, uint64_t msg_id,
                    const uint8_t *body, size_t body_len, zhtp_time now)
{
    if (!n->secure)
        return send_data(n, dest, channel, msg_id, body, body_len, now);
    bool is_nbr = is_neighbour_id(n, dest);
    if (!state_usable(zhtp_session_state(n->sess, dest))) {
        if (is_nbr)
            return ZHTP_ERR_AGAIN; /* the link handshake is under way */
        if (n->dht) {
            /* Find the destination before dialling it: the handshake needs a route. */
            uint16_t ports[LOC_MAX_DEPTH];
            size_t depth;
            int rc = resolve(n, dest, ports, &depth, true, now);
            if (rc != ZHTP_OK)
                return rc;
        }
        zhtp_addr mesh = {0};
        int rc = zhtp_session_connect(n->sess, dest, ZHTP_NODE_LINK_MESH, &mesh, now);
        return rc == ZHTP_ERR_NOMEM ? rc : ZHTP_ERR_AGAIN;
    }
    if (is_nbr)
        return send_data(n, dest, channel, msg_id, body, body_len, now);

    /* Inner packet: header + DATA payload, sealed end to end in place, in one buffer laid out
     * as the outer payload will be: [room for a locator block][outer DATA sub-header][inner
     * header][inner DATA payload][inner tag]. The body is copied once; the sub-header and the
     * locator block are then written in front of the sealed inner packet, not copied around it. */
    size_t pl = ZHTP_WIRE_DATA_HEADER_LEN + body_len;
    size_t cap = ZHTP_WIRE_HEADER_LEN + pl + ZHTP_WIRE_TAG_LEN;
    size_t room = LOC_ROOM + ZHTP_WIRE_DATA_HEADER_LEN;
    uint8_t *buf = nalloc(n, room + cap);
    if (!buf)
        return ZHTP_ERR_NOMEM;
    uint8_t *inner = buf + room;
    zhtp_wire_payload p;
    data_payload(&p, channel, body, body_len);
    int rc;
    zhtp_ssize el = zhtp_wire_payload_encode(inner + ZHTP_WIRE_HEADER_LEN, pl, &p);
    if (el < 0) {
        rc = (int)el;
        goto out;
    }
    zhtp_wire_header ih;
    header_init(n, &ih, ZHTP_WIRE_OP_DATA, dest);
    ih.message_id = msg_id;
    zhtp_ssize il = zhtp_session_seal_packet(n->sess, dest, &ih, inner + ZHTP_WIRE_HEADER_LEN,
                                             (size_t)el, inner, cap, now);
    if (il < 0) {
        rc = il == ZHTP_ERR_NOMEM ? ZHTP_ERR_NOMEM : ZHTP_ERR_AGAIN;
        goto out;
    }
    /* The outer DATA sub-header (channel E2E): encoded from an empty body, whose encoding is
     * the sub-header alone, so the layout stays the payload codec's. */
    uint8_t *outer = inner - ZHTP_WIRE_DATA_HEADER_LEN;
    data_payload(&p, CH_E2E, NULL, 0);
    el = zhtp_wire_payload_encode(outer, ZHTP_WIRE_DATA_HEADER_LEN, &p);
    if (el != ZHTP_WIRE_DATA_HEADER_LEN) {
        rc = el < 0 ? (int)el : ZHTP_ERR_INVAL;
        goto out;
    }
    rc = originate_room(n, dest, ZHTP_WIRE_OP_DATA, msg_id, outer,
                        ZHTP_WIRE_DATA_HEADER_LEN + (size_t)il, LOC_ROOM, true, now);
out:
    nfree(n, buf, room + cap);
    return rc;
}

static bool seen_recently(zhtp_node *n, const uint8_t *src, uint64_t msg_id)
{
    uint64_t key = get_u64(src) ^ (msg_id * 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < RECENT_LEN; i++)
        if (n->recent[i] == key)
            return true;
    n->recent[n->recent_pos] = key;
    n->recent_pos = (n->recent_pos + 1) % RECENT_LEN;
    return false;
}

/* |h|: sender = the authenticated source, message_id, hop_count = hops the packet took. */
static int on_data_local(zhtp_node *n, const zhtp_wire_header *h, const zhtp_wire_data *d,
                         zhtp_time now)
{
    /* hop_count counts forwarders (0 from a neighbour); the event reports links crossed. */
    zhtp_node_event ev = {.hops = (uint32_t)h->hop_count + 1u, .msg_id = h->message_id};
    memcpy(ev.peer, h->sender, ZHTP_NODE_ID_LEN);
    if (d->subtype == ZHTP_WIRE_DATA_IPV6) {
        /* The wire decoder already refused a body that is not an IPv6 packet (< 40 bytes or
         * version nibble != 6): such a packet never gets here and counts in rx_bad. */
        n->st.ip6_rx++;
        ev.type = ZHTP_NODE_EV_IP6;
        return push_event(n, &ev, d->body.ptr, d->body.len);
    }
    if (d->subtype != ZHTP_WIRE_DATA_APP) {
        n->st.rx_bad++;
        return ZHTP_OK;
    }
    switch (d->channel) {
    case CH_ACK: {
        if (d->body.len != 8) {
            n->st.rx_bad++;
            return ZHTP_OK;
        }
        uint64_t id = get_u64(d->body.ptr);
        for (pending **pp = &n->pend; *pp; pp = &(*pp)->next) {
            pending *p = *pp;
            if (p->msg_id == id && memcmp(p->dest, h->sender, ZHTP_NODE_ID_LEN) == 0) {
                *pp = p->next;
                nfree(n, p, sizeof(pending) + p->len);
                ev.type = ZHTP_NODE_EV_ACKED;
                ev.msg_id = id;
                return push_event(n, &ev, NULL, 0);
            }
        }
        return ZHTP_OK; /* late duplicate ack */
    }
    case CH_RELIABLE: {
        uint8_t ack[8];
        put_u64(ack, h->message_id);
        bool dup = seen_recently(n, h->sender, h->message_id);
        /* Acknowledge every copy: the previous ack may be the one that was lost. */
        int rc = send_app(n, h->sender, CH_ACK, n->next_msg_id++, ack, sizeof ack, now);
        if (rc == ZHTP_ERR_NOMEM)
            return rc;
        if (dup) {
            n->st.duplicates++;
            return ZHTP_OK;
        }
        ev.type = ZHTP_NODE_EV_DATA;
        return push_event(n, &ev, d->body.ptr, d->body.len);
    }
    case CH_MESSAGE:
        ev.type = ZHTP_NODE_EV_DATA;
        return push_event(n, &ev, d->body.ptr, d->body.len);
    default:
        n->st.rx_bad++;
        return ZHTP_OK;
    }
}

/* An end-to-end packet (handshake or sealed inner DATA) carried to us from |outer->sender|. */
static int on_e2e(zhtp_node *n, const zhtp_wire_header *outer, const uint8_t *in, size_t len,
                  zhtp_time now)
{
    zhtp_wire_header ih;
    int rc = zhtp_wire_header_decode(&ih, in, len);
    if (rc != ZHTP_OK || memcmp(ih.sender, outer->sender, ZHTP_NODE_ID_LEN) != 0) {
        n->st.rx_bad++;
        return rc != ZHTP_OK ? rc : ZHTP_OK;
    }
    zhtp_addr mesh = {0};
    if (ih.operation == ZHTP_WIRE_OP_HANDSHAKE_INIT ||
        ih.operation == ZHTP_WIRE_OP_HANDSHAKE_RESPONSE ||
        ih.operation == ZHTP_WIRE_OP_COOKIE_REPLY) {
        rc = zhtp_session_recv_handshake(n->sess, ZHTP_NODE_LINK_MESH, &mesh, in, len, now);
        if (rc == ZHTP_ERR_NOMEM)
            return rc;
        if (rc != ZHTP_OK)
            n->st.handshake_errors++;
        return ZHTP_OK;
    }
    uint8_t *pt = nalloc(n, len);
    if (!pt)
        return ZHTP_ERR_NOMEM;
    uint8_t peer[ZHTP_NODE_ID_LEN];
    zhtp_ssize pl = zhtp_session_open_packet(n->sess, ZHTP_NODE_LINK_MESH, &mesh, in, len, &ih, pt,
                                             len, peer, now);
    rc = ZHTP_OK;
    if (pl < 0 || memcmp(peer, outer->sender, ZHTP_NODE_ID_LEN) != 0) {
        n->st.rx_bad++;
    } else if (pl > 0) {
        zhtp_wire_payload p;
        if (ih.operation != ZHTP_WIRE_OP_DATA ||
            zhtp_wire_payload_decode(&p, ZHTP_WIRE_OP_DATA, pt, (size_t)pl) != ZHTP_OK ||
            p.u.data.channel == CH_E2E) {
            n->st.rx_bad++;
        } else {
            ih.hop_count = outer->hop_count;
            rc = on_data_local(n, &ih, &p.u.data, now);
        }
    }
    nfree(n, pt, len);
    return rc;
}

/* The packet's destination coordinates lead nowhere from here (the destination moved in the
 * tree after the origin learnt them). If this node knows other coordinates for the target (a
 * sound cache entry, the driver's lookup), it writes them into the locator block and routes
 * on them, with a fresh bound: the block is inside the link-sealed payload, which this hop
 * reseals anyway. ZHTP_ERR_NOTFOUND when it knows nothing better. */
static int forward_relocated(zhtp_node *n, zhtp_wire_header *fh, const uint8_t *pt, size_t pt_len,
                             zhtp_time now)
{
    zhtp_wire_locators l;
    zhtp_ssize bl = zhtp_wire_locators_decode(&l, pt, pt_len);
    uint16_t ports[LOC_MAX_DEPTH], src[ZHTP_WIRE_LOCATOR_MAX_DEPTH],
        old[ZHTP_WIRE_LOCATOR_MAX_DEPTH];
    size_t depth;
    if (bl < 0 || node_lookup(n, fh->target, ports, LOC_MAX_DEPTH, &depth) != ZHTP_OK)
        return ZHTP_ERR_NOTFOUND;
    zhtp_wire_locators_ports(old, l.dst_ports, l.dst_depth);
    if (depth == l.dst_depth && (!depth || memcmp(old, ports, depth * sizeof *ports) == 0))
        return ZHTP_ERR_NOTFOUND; /* the same coordinates: no better idea */
    zhtp_wire_locators_ports(src, l.src_ports, l.src_depth);
    size_t nbl = ZHTP_WIRE_LOCATORS_LEN(l.src_depth, depth);
    size_t total = nbl + pt_len - (size_t)bl;
    uint8_t *buf = nalloc(n, total);
    if (!buf)
        return ZHTP_ERR_NOMEM;
    int rc = ZHTP_ERR_NOTFOUND;
    if (zhtp_wire_locators_encode(buf, total, src, l.src_depth, ports, depth) == (zhtp_ssize)nbl) {
        memcpy(buf + nbl, pt + bl, pt_len - (size_t)bl);
        fh->route_bound = ZHTP_ROUTE_BOUND_NONE;
        rc = route_packet(n, fh, buf, total, now);
        if (rc == ZHTP_OK)
            n->st.loc_rewrites++;
    }
    nfree(n, buf, total);
    return rc;
}

/* A routed packet (DATA or a DHT operation) for someone else: only the header changes (hop
 * count, bound), and the next link session seals it again; the payload, locator block
 * included, is the end-to-end layer's business. */
static int forward(zhtp_node *n, const zhtp_wire_header *h, const uint8_t *pt, size_t pt_len,
                   zhtp_time now)
{
    if (h->hop_count >= h->hop_limit) {
        n->st.drop_hop_limit++;
        return ZHTP_OK;
    }
    zhtp_wire_header fh = *h;
    fh.hop_count++;
    fh.flags &= (uint16_t) ~(ZHTP_WIRE_FLAG_SEALED | ZHTP_WIRE_FLAG_CLEAR_TAIL);
    fh.receiver_index = 0;
    fh.counter = 0;
    fh.clear_len = 0; /* emit decides the next hop's tail afresh */
    int rc = route_packet(n, &fh, pt, pt_len, now);
    if ((rc == ZHTP_ERR_NOTFOUND || rc == ERR_BOUND_UNMET) &&
        (fh.flags & ZHTP_WIRE_FLAG_LOCATORS)) {
        int r2 = forward_relocated(n, &fh, pt, pt_len, now);
        if (r2 != ZHTP_ERR_NOTFOUND)
            rc = r2;
    }
    if (rc == ZHTP_ERR_NOTFOUND) {
        n->st.drop_no_route++;
        return ZHTP_OK;
    }
    if (rc == ERR_BOUND_UNMET) {
        n->st.drop_route_bound++;
        return ZHTP_OK;
    }
    if (rc == ZHTP_OK) {
        if (h->operation == ZHTP_WIRE_OP_DATA)
            n->st.fwd_packets++;
        else
            n->st.dht_fwd++;
    }
    return rc;
}

/* DATA from neighbour |b|: header |h|, plaintext payload |pt| (opened by the link session in
 * secure mode). */
static int on_data(zhtp_node *n, const nbr *b, const zhtp_wire_header *h, const uint8_t *pt,
                   size_t pt_len, zhtp_time now)
{
    if (memcmp(h->target, n->self, ZHTP_NODE_ID_LEN) != 0)
        return forward(n, h, pt, pt_len, now);
    int rc = strip_locators(n, h, &pt, &pt_len, now);
    if (rc != ZHTP_OK) {
        n->st.rx_bad++;
        return rc;
    }
    zhtp_wire_payload p;
    rc = zhtp_wire_payload_decode(&p, ZHTP_WIRE_OP_DATA, pt, pt_len);
    if (rc != ZHTP_OK) {
        n->st.rx_bad++;
        return rc;
    }
    if (n->secure) {
        if (p.u.data.subtype == ZHTP_WIRE_DATA_APP && p.u.data.channel == CH_E2E)
            return on_e2e(n, h, p.u.data.body.ptr, p.u.data.body.len, now);
        /* Only a neighbour's own data is protected end to end by the link session. */
        if (memcmp(h->sender, b->id, ZHTP_NODE_ID_LEN) != 0) {
            n->st.rx_bad++;
            return ZHTP_OK;
        }
    }
    return on_data_local(n, h, &p.u.data, now);
}

/* ---- the DHT over the mesh (docs/protocol.md 6.1-6.7, docs/dht.md "Over the mesh") -------- */

static bool is_dht_op(uint8_t op)
{
    return op == ZHTP_WIRE_OP_QUERY || op == ZHTP_WIRE_OP_QUERY_RESPONSE ||
           op == ZHTP_WIRE_OP_STORE || op == ZHTP_WIRE_OP_STORE_ACK ||
           op == ZHTP_WIRE_OP_RELAY_QUERY || op == ZHTP_WIRE_OP_RELAY_RESPONSE;
}

/* A DHT packet from neighbour |b| (opened by its link session in secure mode). For us: the
 * DHT message (the payload after the locator block) goes to our DHT, its source counted as
 * authenticated only when it is that neighbour itself; for others: forwarded. */
static int on_dht_packet(zhtp_node *n, const nbr *b, const zhtp_wire_header *h, const uint8_t *pt,
                         size_t pt_len, zhtp_time now)
{
    if (memcmp(h->target, n->self, ZHTP_NODE_ID_LEN) != 0)
        return forward(n, h, pt, pt_len, now);
    int rc = strip_locators(n, h, &pt, &pt_len, now);
    if (rc != ZHTP_OK || !n->dht || pt_len < 1 || zhtp_dht_msg_wire_op(pt[0]) != h->operation) {
        n->st.rx_bad++; /* no DHT here, or a DHT message under the wrong operation */
        return rc;
    }
    n->st.dht_rx++;
    /* In secure mode the link session authenticated the neighbour; a farther sender is only
     * what the header claims (sealed hop by hop, not end to end). */
    if (memcmp(h->sender, b->id, ZHTP_NODE_ID_LEN) == 0)
        return zhtp_dht_recv(n->dht, h->sender, pt, pt_len, now);
    return zhtp_dht_recv_unverified(n->dht, h->sender, pt, pt_len, now);
}

static void flush_pending(zhtp_node *n, const uint8_t *peer, zhtp_time now);

/* Moves the DHT's messages onto the mesh, and lets messages that waited for a locator go. */
static int pump_dht(zhtp_node *n, zhtp_time now)
{
    if (!n->dht)
        return ZHTP_OK;
    int rc = ZHTP_OK;
    uint8_t stack[LOCAL_STACK];
    for (;;) {
        uint8_t to[ZHTP_DHT_ID_LEN];
        uint8_t *buf = stack;
        size_t cap = sizeof stack;
        zhtp_ssize len = zhtp_dht_next_message(n->dht, to, buf, cap);
        if (len == ZHTP_ERR_NOBUF) {
            cap = ZHTP_DHT_MSG_MAX;
            buf = nalloc(n, cap);
            if (!buf)
                return ZHTP_ERR_NOMEM;
            len = zhtp_dht_next_message(n->dht, to, buf, cap);
        }
        if (len > 0) {
            int op = zhtp_dht_msg_wire_op(buf[0]);
            /* The DHT's own requests do not start lookups (that would recurse): a contact
             * without a locator is unreachable this time and its RPC times out. */
            int r = op < 0 ? op
                           : originate(n, to, (uint8_t)op, n->next_msg_id++, buf, (size_t)len,
                                       false, now);
            if (r == ZHTP_OK)
                n->st.dht_tx++;
            else if (r == ZHTP_ERR_NOMEM)
                rc = r;
            else if (r == ZHTP_ERR_NOTFOUND)
                n->st.drop_no_route++;
        }
        if (buf != stack)
            nfree(n, buf, cap);
        if (len < 0)
            break;
    }
    if (n->loc_news) {
        n->loc_news = false;
        for (bool again = true; again;) {
            again = false;
            for (pending *p = n->pend; p; p = p->next) {
                uint16_t ports[LOC_MAX_DEPTH];
                size_t depth;
                if (!p->wait_loc || !coords_of(n, p->dest, ports, &depth, now))
                    continue;
                uint8_t dest[ZHTP_NODE_ID_LEN];
                memcpy(dest, p->dest, sizeof dest);
                for (pending *q = n->pend; q; q = q->next)
                    if (memcmp(q->dest, dest, sizeof dest) == 0)
                        q->wait_loc = false;
                flush_pending(n, dest, now); /* may free p: walk again from the head */
                again = true;
                break;
            }
        }
    }
    return rc;
}

/* ---- sessions ------------------------------------------------------------------------------ */

static void on_session_state(zhtp_node *n, const zhtp_session_event *ev, zhtp_time now)
{
    bool up = state_usable(ev->state), was = state_usable(ev->old_state);
    for (size_t i = 0; i < n->n_nbrs; i++) {
        nbr *b = &n->nbrs[i];
        if (memcmp(b->id, ev->peer, ZHTP_NODE_ID_LEN) != 0)
            continue;
        if (up)
            (void)nbr_route_up(n, b, now); /* NOMEM: the next beacon retries (maybe_connect) */
        else if (was && b->routed) {
            (void)zhtp_router_link_down(n->router, b->rlink, now);
            b->routed = false;
        }
    }
    if (up)
        flush_pending(n, ev->peer, now);
}

/* Drains the session pool: its packets onto links (or, for end-to-end peers, into DATA over
 * the mesh), its events into router and pending-message decisions. */
static int pump_sessions(zhtp_node *n, zhtp_time now)
{
    if (!n->secure)
        return ZHTP_OK;
    int rc = ZHTP_OK;
    uint8_t stack[8192];
    for (;;) {
        zhtp_link_id l;
        zhtp_addr to;
        uint8_t *buf = stack;
        size_t cap = sizeof stack;
        zhtp_ssize len = zhtp_session_next_datagram(n->sess, &l, &to, buf, cap, now);
        if (len == ZHTP_ERR_NOBUF) {
            cap = ZHTP_WIRE_MAX_PACKET;
            buf = nalloc(n, cap);
            if (!buf)
                return ZHTP_ERR_NOMEM;
            len = zhtp_session_next_datagram(n->sess, &l, &to, buf, cap, now);
        }
        int r = ZHTP_OK;
        if (len >= ZHTP_WIRE_HEADER_LEN) {
            if (l == ZHTP_NODE_LINK_MESH) {
                zhtp_wire_header ih;
                if (zhtp_wire_header_decode(&ih, buf, (size_t)len) == ZHTP_OK)
                    r = send_data(n, ih.target, CH_E2E, n->next_msg_id++, buf, (size_t)len, now);
                if (r == ZHTP_ERR_NOTFOUND) {
                    n->st.drop_no_route++;
                    r = ZHTP_OK;
                }
            } else {
                int li = find_link(n, l);
                uint8_t op = buf[5]; /* the session layer built this header itself */
                uint8_t hs = is_handshake_op(op) ? op : 0;
                if (li >= 0)
                    r = queue_packet_hs(n, (uint32_t)li, &to, buf, (size_t)len, NULL, 0, hs, 0);
            }
        }
        if (buf != stack)
            nfree(n, buf, cap);
        if (r != ZHTP_OK)
            rc = r;
        if (len < 0)
            break;
    }
    zhtp_session_event ev;
    while (zhtp_session_next_event(n->sess, &ev) == ZHTP_OK)
        if (ev.type == ZHTP_SESSION_EV_STATE)
            on_session_state(n, &ev, now);
    return rc;
}

/* ---- receive path -------------------------------------------------------------------------- */

/* A packet whose magic is ours but whose version we do not speak (docs/protocol.md section 7):
 * answered with ERROR/VERSION_MISMATCH listing our versions, built by the wire helper, which
 * refuses version 0 (never answer a negotiation packet) and packets shorter than the reply
 * (no amplification). Rate-limited per link by a token bucket. */
static int answer_version(zhtp_node *n, uint32_t link_idx, const zhtp_addr *from,
                          const uint8_t *buf, size_t len, zhtp_time now)
{
    link *l = &n->links[link_idx];
    uint8_t reply[ZHTP_WIRE_HEADER_LEN + 64];
    zhtp_ssize rl = zhtp_wire_version_mismatch_build(reply, sizeof reply, buf, len, n->self,
                                                     n->next_msg_id, our_versions, VERSIONS_LEN);
    if (rl < 0)
        return ZHTP_OK; /* version 0, too short to answer, or not a version problem */
    if (now > l->vm_last) {
        zhtp_time cap = (zhtp_time)VM_BURST * VM_COST_NS;
        zhtp_time add = now - l->vm_last;
        l->vm_credit = add >= cap - l->vm_credit ? cap : l->vm_credit + add;
        l->vm_last = now;
    }
    if (l->vm_credit < VM_COST_NS) {
        n->st.version_mismatch_limited++;
        return ZHTP_OK;
    }
    l->vm_credit -= VM_COST_NS;
    n->next_msg_id++;
    n->st.version_mismatch_sent++;
    /* Fragmented like any packet: a link's MTU may be below the reply (minimum 64). */
    return queue_packet(n, link_idx, from, reply, (size_t)rl, NULL, 0);
}

/* A version-0 packet: only ERROR/VERSION_MISMATCH exists there. Counted and surfaced as an
 * event (the application decides whether to upgrade); never answered, so two nodes without a
 * common version exchange at most one reply each. */
static int on_version_mismatch(zhtp_node *n, uint32_t link_idx, const zhtp_wire_packet *pk)
{
    zhtp_wire_payload p;
    if (pk->hdr.operation != ZHTP_WIRE_OP_ERROR ||
        zhtp_wire_payload_decode(&p, pk->hdr.operation, pk->payload.ptr, pk->payload.len) !=
            ZHTP_OK ||
        p.u.error.code != ZHTP_WIRE_ERROR_VERSION_MISMATCH) {
        n->st.rx_bad++;
        return ZHTP_OK;
    }
    n->st.version_mismatch_received++;
    zhtp_node_event ev = {.type = ZHTP_NODE_EV_VERSION_MISMATCH,
                          .link = n->links[link_idx].id,
                          .msg_id = p.u.error.in_reply_to};
    memcpy(ev.peer, pk->hdr.sender, ZHTP_NODE_ID_LEN);
    return push_event(n, &ev, p.u.error.versions, p.u.error.version_count);
}

static int on_packet(zhtp_node *n, uint32_t link_idx, const zhtp_addr *from, const uint8_t *buf,
                     size_t len, zhtp_time now)
{
    zhtp_wire_packet pk;
    int rc = zhtp_wire_packet_decode(&pk, buf, len);
    if (rc == ZHTP_ERR_WIRE_VERSION) {
        n->st.rx_bad++;
        int r = answer_version(n, link_idx, from, buf, len, now);
        return r == ZHTP_ERR_NOMEM ? r : rc;
    }
    if (rc != ZHTP_OK) {
        n->st.rx_bad++;
        return rc;
    }
    if (pk.hdr.version == ZHTP_WIRE_VERSION_NEGOTIATION)
        return on_version_mismatch(n, link_idx, &pk);
    uint8_t op = pk.hdr.operation;
    bool sealed = (pk.hdr.flags & ZHTP_WIRE_FLAG_SEALED) != 0;
    if (op == ZHTP_WIRE_OP_PEER_DISCOVERY && !sealed) {
        zhtp_wire_payload p;
        rc = zhtp_wire_payload_decode(&p, op, pk.payload.ptr, pk.payload.len);
        if (rc != ZHTP_OK) {
            n->st.rx_bad++;
            return rc;
        }
        return on_discovery(n, link_idx, from, &pk.hdr, &p.u.peer_discovery, now);
    }
    /* Everything else only from a known neighbour. */
    nbr *b = find_nbr(n, link_idx, from);
    if (!b) {
        n->st.rx_bad++;
        return ZHTP_OK;
    }
    if (op == ZHTP_WIRE_OP_HANDSHAKE_INIT || op == ZHTP_WIRE_OP_HANDSHAKE_RESPONSE ||
        op == ZHTP_WIRE_OP_COOKIE_REPLY) {
        if (!n->secure)
            return ZHTP_OK;
        rc = zhtp_session_recv_handshake(n->sess, n->links[link_idx].id, from, buf, len, now);
        if (rc == ZHTP_ERR_NOMEM)
            return rc;
        if (rc != ZHTP_OK)
            n->st.handshake_errors++;
        else
            b->last_heard = now;
        return ZHTP_OK;
    }
    zhtp_wire_header h = pk.hdr;
    const uint8_t *pt = pk.payload.ptr;
    size_t pt_len = pk.payload.len;
    uint8_t stack[LOCAL_STACK];
    uint8_t *open = NULL;
    if (n->secure) {
        if (!sealed) {
            n->st.rx_bad++; /* only discovery and handshakes travel in clear */
            return ZHTP_OK;
        }
        open = len <= sizeof stack ? stack : nalloc(n, len);
        if (!open)
            return ZHTP_ERR_NOMEM;
        uint8_t peer[ZHTP_NODE_ID_LEN];
        zhtp_ssize pl = zhtp_session_open_packet(n->sess, n->links[link_idx].id, from, buf, len, &h,
                                                 open, len, peer, now);
        if (pl == ZHTP_ERR_SESSION_REPLAY) {
            rc = ZHTP_OK; /* a repeated copy (lossy-link repetition) or a replay: ignored */
            goto out;
        }
        if (pl < 0 || memcmp(peer, b->id, ZHTP_NODE_ID_LEN) != 0) {
            n->st.rx_bad++;
            rc = pl < 0 ? (int)pl : ZHTP_OK;
            goto out;
        }
        pt = open;
        pt_len = (size_t)pl;
        /* A clear tail is accepted only where this node would have left one itself (the
         * end-to-end inner packet after its header): anything else in clear is refused. */
        if ((h.flags & ZHTP_WIRE_FLAG_CLEAR_TAIL) &&
            e2e_clear_tail(&h, pt, pt_len) != h.clear_len) {
            n->st.rx_bad++;
            rc = ZHTP_OK;
            goto out;
        }
        /* Authenticated: the receiver side of the compression context moves forward. */
        if (b->rx_index != h.receiver_index || b->rx_base == ZHTP_WIRE_COUNTER_NONE ||
            h.counter > b->rx_base) {
            b->rx_index = h.receiver_index;
            b->rx_base = h.counter;
        }
        if (pl == 0) { /* session keepalive */
            b->last_heard = now;
            goto out;
        }
    } else if (sealed) {
        n->st.rx_bad++;
        return ZHTP_ERR_UNSUPPORTED;
    }
    b->last_heard = now;
    switch (op) {
    case ZHTP_WIRE_OP_ROUTING: {
        if (memcmp(h.sender, b->id, ZHTP_NODE_ID_LEN) != 0) {
            n->st.rx_bad++; /* link-local control must come from the neighbour itself */
            break;
        }
        zhtp_wire_payload p;
        rc = zhtp_wire_payload_decode(&p, op, pt, pt_len);
        if (rc != ZHTP_OK) {
            n->st.rx_bad++;
            break;
        }
        rc = on_routing(n, b, &p.u.routing, now);
        break;
    }
    case ZHTP_WIRE_OP_DATA:
        rc = on_data(n, b, &h, pt, pt_len, now);
        break;
    default:
        if (is_dht_op(op))
            rc = on_dht_packet(n, b, &h, pt, pt_len, now);
        break; /* RECEIPT, ERROR: modules not composed yet */
    }
out:
    if (open && open != stack)
        nfree(n, open, len);
    return rc;
}

/* A compressed packet from (link_idx, from): rebuilt into the full packet (the AEAD's
 * associated data is the full header, so both ends must produce identical bytes) with the
 * context of that neighbour's link session, then handled like any full packet. */
static int on_compressed(zhtp_node *n, uint32_t link_idx, const zhtp_addr *from, const uint8_t *buf,
                         size_t len, zhtp_time now)
{
    nbr *b = find_nbr(n, link_idx, from);
    if (!b) {
        n->st.rx_bad++; /* no context: only a known neighbour's session can be compressed */
        return ZHTP_OK;
    }
    zhtp_wire_link_ctx ctx = {.version = ZHTP_WIRE_VERSION, .counter_base = b->rx_base};
    memcpy(ctx.sender_id, b->id, ZHTP_NODE_ID_LEN);
    memcpy(ctx.target_id, n->self, ZHTP_NODE_ID_LEN);
    zhtp_wire_header h;
    zhtp_ssize hl = zhtp_wire_compressed_header_decode(&h, buf, len, &ctx);
    if (hl < 0) {
        n->st.rx_bad++;
        return (int)hl;
    }
    uint32_t index = 0;
    if (h.flags & ZHTP_WIRE_FLAG_SEALED) {
        index = alias_resolve(n, b, h.receiver_index);
        if (!index) {
            n->st.rx_bad++; /* an alias of no session we hold with this neighbour */
            return ZHTP_OK;
        }
        /* The counter base belongs to one session: another receiver index starts from none. */
        if (index != b->rx_index)
            ctx.counter_base = ZHTP_WIRE_COUNTER_NONE;
    }
    size_t cap = len - (size_t)hl + ZHTP_WIRE_HEADER_LEN;
    uint8_t stack[LOCAL_STACK];
    uint8_t *full = cap <= sizeof stack ? stack : nalloc(n, cap);
    if (!full)
        return ZHTP_ERR_NOMEM;
    zhtp_ssize fl = zhtp_wire_packet_decompress(full, cap, buf, len, &ctx);
    if (fl >= 0 && index)
        put_u32_at(full + OFF_RECEIVER_INDEX, index);
    int rc;
    if (fl < 0) {
        n->st.rx_bad++;
        rc = (int)fl;
    } else {
        n->st.rx_compressed++;
        rc = on_packet(n, link_idx, from, full, (size_t)fl, now);
    }
    if (full != stack)
        nfree(n, full, cap);
    return rc;
}

/* One packet off a link (a whole frame or a reassembled one): full or compressed. */
static int on_link_packet(zhtp_node *n, uint32_t link_idx, const zhtp_addr *from,
                          const uint8_t *buf, size_t len, zhtp_time now)
{
    switch (zhtp_wire_frame_kind(buf, len)) {
    case ZHTP_WIRE_FRAME_FULL:
        return on_packet(n, link_idx, from, buf, len, now);
    case ZHTP_WIRE_FRAME_COMPRESSED:
        return on_compressed(n, link_idx, from, buf, len, now);
    default:
        n->st.rx_bad++;
        return ZHTP_ERR_WIRE_MAGIC;
    }
}

int zhtp_node_recv(zhtp_node *n, zhtp_link_id link_id, const zhtp_addr *from, const uint8_t *buf,
                   size_t len, zhtp_time now)
{
    if (!n || !from || (!buf && len))
        return ZHTP_ERR_INVAL;
    int li = find_link(n, link_id);
    if (li < 0)
        return ZHTP_ERR_NOTFOUND;
    n->now = now;
    n->st.rx_frames++;
    n->st.rx_bytes += len;
    int rc;
    switch (zhtp_wire_frame_kind(buf, len)) {
    case ZHTP_WIRE_FRAME_FRAGMENT: {
        const uint8_t *pkt;
        zhtp_ssize pl =
            zhtp_wire_reasm_feed(n->reasm, peer_key((uint32_t)li, from), buf, len, now, &pkt);
        if (pl >= 0)
            rc = on_link_packet(n, (uint32_t)li, from, pkt, (size_t)pl, now);
        else if (pl == ZHTP_ERR_AGAIN)
            /* A fragment that completed nothing touched only the reassembly buffer: the
             * session, router and DHT queues are as the previous call left them, drained (or,
             * after a failed allocation, kept for zhtp_node_tick), so there is nothing to pump.
             * 12 of the 13 frames of a 16 KiB packet at 1280 bytes end here. */
            return ZHTP_OK;
        else if (pl == ZHTP_ERR_WIRE_FRAGMENT_LATE) {
            n->st.rx_late_fragments++;
            return ZHTP_OK; /* likewise: counted, nothing else changed */
        } else {
            if (pl != ZHTP_ERR_NOMEM)
                n->st.rx_bad++;
            rc = (int)pl;
        }
        break;
    }
    default:
        rc = on_link_packet(n, (uint32_t)li, from, buf, len, now);
        break;
    }
    int src = pump_sessions(n, now);
    int prc = pump_router(n, now);
    int drc = pump_dht(n, now);
    if (rc != ZHTP_OK)
        return rc;
    return src != ZHTP_OK ? src : prc != ZHTP_OK ? prc : drc;
}

/* A pending message whose destination is being looked up: sent as soon as a locator for it
 * arrives (pump_dht) rather than at its next retransmission. */
static bool waits_for_locator(zhtp_node *n, const uint8_t *dest, zhtp_time now)
{
    uint16_t ports[LOC_MAX_DEPTH];
    size_t depth;
    return n->dht && !is_neighbour_id(n, dest) && !coords_of(n, dest, ports, &depth, now);
}

/* ---- application send, retransmission ------------------------------------------------------ */

int zhtp_node_send(zhtp_node *n, const uint8_t dest[ZHTP_NODE_ID_LEN], const uint8_t *bytes,
                   size_t len, uint32_t flags, zhtp_time now, uint64_t *msg_id)
{
    if (!n || !dest || (!bytes && len) || len > ZHTP_NODE_MAX_MESSAGE ||
        memcmp(dest, n->self, ZHTP_NODE_ID_LEN) == 0)
        return ZHTP_ERR_INVAL;
    n->now = now;
    bool reliable = (flags & ZHTP_NODE_SEND_RELIABLE) != 0;
    bool ip6 = (flags & ZHTP_NODE_SEND_IP6) != 0;
    if (ip6 && (reliable || len < 40 || (bytes[0] >> 4) != 6))
        return ZHTP_ERR_INVAL; /* an IPv6 packet is at least its 40-byte header, version 6 */
    uint64_t id = n->next_msg_id++;
    if (msg_id)
        *msg_id = id;
    uint32_t channel = ip6 ? CH_IP6 : reliable ? CH_RELIABLE : CH_MESSAGE;
    if (!reliable && !n->secure) {
        int rc = send_data(n, dest, channel, id, bytes, len, now);
        if (ip6 && rc == ZHTP_OK)
            n->st.ip6_tx++;
        else if (ip6 && rc != ZHTP_ERR_NOMEM)
            n->st.drop_ip6++;
        return rc;
    }
    if (ip6 && n->n_ip6_pending >= IP6_PENDING_MAX &&
        !state_usable(zhtp_session_state(n->sess, dest))) {
        n->st.drop_ip6++;
        return ZHTP_ERR_AGAIN;
    }

    /* A reliable message is kept until acknowledged, so its copy is made first (no copy, no
     * send). An unreliable one is kept only while its end-to-end session is being set up:
     * the common case, every TUN packet over a live session, sends without allocating. */
    pending *p = NULL;
    if (reliable) {
        p = nalloc(n, sizeof(pending) + len);
        if (!p)
            return ZHTP_ERR_NOMEM;
        if (len)
            memcpy(p->data, bytes, len);
    }
    int rc = send_app(n, dest, channel, id, bytes, len, now);
    int src = pump_sessions(n, now);
    if (rc == ZHTP_ERR_NOMEM || src == ZHTP_ERR_NOMEM) {
        if (p)
            nfree(n, p, sizeof(pending) + len);
        return ZHTP_ERR_NOMEM;
    }
    if (!reliable && rc != ZHTP_ERR_AGAIN) {
        /* Sent (or no route). */
        if (ip6 && rc == ZHTP_OK)
            n->st.ip6_tx++;
        else if (ip6)
            n->st.drop_ip6++;
        return rc;
    }
    if (!p) {
        /* Unreliable, waiting for its session (or the destination's locator). */
        p = nalloc(n, sizeof(pending) + len);
        if (!p)
            return ZHTP_ERR_NOMEM;
        if (len)
            memcpy(p->data, bytes, len);
    }
    p->msg_id = id;
    memcpy(p->dest, dest, ZHTP_NODE_ID_LEN);
    p->rto = n->cfg.rto_initial_ns;
    p->deadline = now + p->rto;
    p->attempts = 1;
    p->reliable = reliable;
    p->ip6 = ip6;
    p->len = len;
    if (ip6)
        n->n_ip6_pending++;
    p->wait_loc = waits_for_locator(n, dest, now);
    /* No route or no session yet is not an error: the timer (or the session coming up)
     * tries again. */
    p->next = n->pend;
    n->pend = p;
    return ZHTP_OK;
}

static void flush_pending(zhtp_node *n, const uint8_t *peer, zhtp_time now)
{
    for (pending **pp = &n->pend; *pp;) {
        pending *p = *pp;
        if (memcmp(p->dest, peer, ZHTP_NODE_ID_LEN) != 0) {
            pp = &p->next;
            continue;
        }
        uint32_t ch = p->ip6 ? CH_IP6 : p->reliable ? CH_RELIABLE : CH_MESSAGE;
        int rc = send_app(n, p->dest, ch, p->msg_id, p->data, p->len, now);
        if (!p->reliable && rc != ZHTP_ERR_AGAIN && rc != ZHTP_ERR_NOMEM) {
            if (p->ip6) {
                n->n_ip6_pending--;
                if (rc == ZHTP_OK)
                    n->st.ip6_tx++;
                else
                    n->st.drop_ip6++;
            }
            *pp = p->next;
            nfree(n, p, sizeof(pending) + p->len);
            continue;
        }
        pp = &p->next;
    }
}

static int tick_pending(zhtp_node *n, zhtp_time now)
{
    int rc = ZHTP_OK;
    for (pending **pp = &n->pend; *pp;) {
        pending *p = *pp;
        if (p->deadline > now) {
            pp = &p->next;
            continue;
        }
        if (p->ip6) {
            /* IPv6 is a datagram service: a packet whose session did not come up in one RTO
             * is dropped without an event (the tunnel's own transports retry). */
            n->n_ip6_pending--;
            n->st.drop_ip6++;
            *pp = p->next;
            nfree(n, p, sizeof(pending) + p->len);
            continue;
        }
        if (p->attempts > n->cfg.max_retransmits || !p->reliable) {
            zhtp_node_event ev = {.type = ZHTP_NODE_EV_FAILED, .msg_id = p->msg_id};
            memcpy(ev.peer, p->dest, ZHTP_NODE_ID_LEN);
            *pp = p->next;
            nfree(n, p, sizeof(pending) + p->len);
            (void)push_event(n, &ev, NULL, 0);
            continue;
        }
        p->attempts++;
        n->st.retransmits++;
        /* Unanswered: the destination may have moved in the tree (docs/routing.md
         * "Locators": stale coordinates heal by a new lookup). */
        if (p->attempts >= 3)
            relocate(n, p->dest, now);
        p->rto = p->rto * 2 > n->cfg.rto_max_ns ? n->cfg.rto_max_ns : p->rto * 2;
        p->deadline = now + p->rto;
        int r = send_app(n, p->dest, CH_RELIABLE, p->msg_id, p->data, p->len, now);
        if (r == ZHTP_ERR_NOMEM)
            rc = r;
        else if (r == ZHTP_ERR_AGAIN)
            p->wait_loc = waits_for_locator(n, p->dest, now);
        pp = &p->next;
    }
    return rc;
}

/* ---- timers -------------------------------------------------------------------------------- */

zhtp_time zhtp_node_next_deadline(const zhtp_node *n)
{
    if (!n)
        return ZHTP_TIME_NEVER;
    zhtp_time t = zhtp_router_next_deadline(n->router);
    zhtp_time r = zhtp_wire_reasm_next_deadline(n->reasm);
    if (r < t)
        t = r;
    if (n->sess) {
        r = zhtp_session_next_deadline(n->sess);
        if (r < t)
            t = r;
    }
    for (size_t i = 0; i < n->n_links; i++)
        if (n->links[i].next_beacon < t)
            t = n->links[i].next_beacon;
    for (size_t i = 0; i < n->n_nbrs; i++) {
        zhtp_time e = n->nbrs[i].last_heard + nbr_timeout(n);
        if (e < t)
            t = e;
    }
    for (const pending *p = n->pend; p; p = p->next)
        if (p->deadline < t)
            t = p->deadline;
    if (n->dht) {
        r = zhtp_dht_next_deadline(n->dht);
        if (r < t)
            t = r;
        if (n->next_self_locate < t)
            t = n->next_self_locate;
    }
    /* Frames held back by pacing: due when their link's backlog is short enough again. Per
     * link with frames queued (q_bytes), not per frame: the answer is the same, and the queue
     * holds 13 frames per 16 KiB packet on a UDP link, walked after every driver event. */
    for (size_t i = 0; i < n->n_links; i++) {
        const link *l = &n->links[i];
        if (l->q_bytes && l->narrow && l->tx_free > PACE_AHEAD_NS && l->tx_free - PACE_AHEAD_NS < t)
            t = l->tx_free - PACE_AHEAD_NS;
    }
    return t;
}

/* Every LOSS_WINDOW beacon intervals: the share of the neighbour's keepalive beacons we did
 * not hear estimates the link's frame loss. It feeds the router's link metric, and sets how
 * many copies of each frame we send, so that a handshake of several fragments still gets
 * through a 30 % loss link: 1 copy below 5 % loss, 2 below 15 %, 3 below 30 %, else 4. */
#define LOSS_WINDOW 8
static void update_loss(zhtp_node *n, nbr *b, zhtp_time now)
{
    zhtp_time span = now - b->window_start;
    if (span < LOSS_WINDOW * beacon_interval(n))
        return;
    /* Beacons still missing at the window's end (a silent stretch not yet closed by a
     * beacon) count now; the next beacon's gap then starts from here. */
    if (b->last_beacon != 0 && now > b->last_beacon + beacon_interval(n) / 2) {
        zhtp_time iv = beacon_interval(n);
        uint64_t k = (now - b->last_beacon - iv / 2) / iv; /* due, and half an interval late */
        if (k > 0) {
            b->missed += (uint32_t)(k < 64 ? k : 64);
            b->last_beacon += k * iv;
        }
    }
    uint64_t expected = (uint64_t)b->heard + b->missed;
    if (expected == 0)
        expected = 1, b->missed = 1; /* nothing at all heard: total loss */
    uint32_t loss = (uint32_t)((uint64_t)b->missed * 1000000u / expected);
    b->loss_ppm = b->measured ? (3 * b->loss_ppm + loss) / 4 : loss;
    b->measured = true;
    b->repeat = b->loss_ppm < 50000 ? 1 : b->loss_ppm < 150000 ? 2 : b->loss_ppm < 300000 ? 3 : 4;
    b->heard = 0;
    b->missed = 0;
    b->window_start = now;
    if (b->routed)
        (void)zhtp_router_link_update(n->router, b->rlink, 0, b->loss_ppm, now);
}

/* The DHT's timers, our self-lookups (join, settle, refresh; soon after our coordinates
 * change), then its messages onto the mesh. */
static int tick_dht(zhtp_node *n, zhtp_time now)
{
    if (!n->dht)
        return ZHTP_OK;
    int rc = ZHTP_OK;
    if (zhtp_dht_next_deadline(n->dht) <= now && zhtp_dht_tick(n->dht, now) == ZHTP_ERR_NOMEM)
        rc = ZHTP_ERR_NOMEM;
    uint64_t ch = zhtp_router_changes(n->router);
    if (ch != n->router_changes_seen) {
        n->router_changes_seen = ch;
        if (n->next_self_locate != ZHTP_TIME_NEVER) {
            zhtp_time want = now + 2 * ZHTP_NS_PER_SEC;
            if (want < n->last_self_locate + SELF_LOCATE_MIN_NS)
                want = n->last_self_locate + SELF_LOCATE_MIN_NS;
            if (want < n->next_self_locate)
                n->next_self_locate = want;
        }
    }
    if (n->next_self_locate <= now) {
        if (zhtp_dht_locate(n->dht, n->self, now) == ZHTP_ERR_NOMEM)
            rc = ZHTP_ERR_NOMEM;
        n->self_locates++;
        n->last_self_locate = now;
        n->next_self_locate =
            now + (n->self_locates < 4 ? 3 * ZHTP_NS_PER_SEC * n->self_locates : SELF_LOCATE_NS);
    }
    int r = pump_dht(n, now);
    return rc != ZHTP_OK ? rc : r;
}

int zhtp_node_tick(zhtp_node *n, zhtp_time now)
{
    if (!n)
        return ZHTP_ERR_INVAL;
    n->now = now;
    int rc = ZHTP_OK;
    for (size_t i = 0; i < n->n_nbrs; i++)
        update_loss(n, &n->nbrs[i], now);
    for (size_t i = 0; i < n->n_nbrs;) {
        if (n->nbrs[i].last_heard + nbr_timeout(n) <= now)
            nbr_remove(n, i, now); /* moves the last one into i */
        else
            i++;
    }
    for (size_t i = 0; i < n->n_links; i++) {
        link *l = &n->links[i];
        if (l->next_beacon > now)
            continue;
        /* On a fixed grid, so a driver's late timers do not stretch the period (the
         * neighbours read loss off the gaps); re-anchored after a long stall. */
        l->next_beacon += beacon_interval(n);
        if (l->next_beacon <= now)
            l->next_beacon = now + beacon_interval(n);
        zhtp_addr bcast = {0};
        int r =
            send_discovery(n, (uint32_t)i, &bcast, ZHTP_WIRE_DISCOVERY_BEACON, false, NULL, now);
        if (r != ZHTP_OK)
            rc = r;
    }
    (void)zhtp_wire_reasm_tick(n->reasm, now);
    (void)zhtp_router_tick(n->router, now);
    if (n->sess && zhtp_session_tick(n->sess, now) == ZHTP_ERR_NOMEM)
        rc = ZHTP_ERR_NOMEM;
    int r = tick_pending(n, now);
    if (r != ZHTP_OK)
        rc = r;
    r = pump_sessions(n, now);
    if (r != ZHTP_OK)
        rc = r;
    r = tick_dht(n, now);
    if (r != ZHTP_OK)
        rc = r;
    r = pump_router(n, now);
    return rc != ZHTP_OK ? rc : r;
}

/* Whether a fragment to the same neighbour on the same link is queued ahead of |c|: a whole
 * frame may overtake fragments to others (a keepalive beacon, a packet to another neighbour)
 * but not those to its own destination, whose order the session and the compression context
 * rely on (a sealed packet must not arrive before the handshake that created its keys). */
static bool behind_fragment(const zhtp_node *n, const frame *c)
{
    for (const frame *f = n->q_head; f != c; f = f->next)
        if (f->frag && f->link == c->link && addr_eq(&f->to, &c->to))
            return true;
    return false;
}

zhtp_ssize zhtp_node_next_datagram(zhtp_node *n, zhtp_link_id *link_id, zhtp_addr *to, uint8_t *out,
                                   size_t out_cap, zhtp_time now)
{
    if (!n || !link_id || !to || !out)
        return ZHTP_ERR_INVAL;
    /* The application may have called the DHT directly (zhtp_node_dht): its messages are put
     * on the mesh here, the next place the contract says the driver comes to. */
    n->now = now;
    (void)pump_dht(n, now); /* NOMEM: they stay queued in the DHT for the next call */
    /* The first frame whose link may send now; on a paced (narrow) link a whole frame
     * (beacon, keepalive, compressed DATA) overtakes queued fragments of large packets. */
    frame *f = NULL, *prev = NULL, *frag = NULL, *frag_prev = NULL;
    link *fl = NULL, *frag_l = NULL;
    for (frame *c = n->q_head, *p = NULL; c; p = c, c = c->next) {
        int li = find_link(n, c->link);
        link *l = li >= 0 ? &n->links[li] : NULL;
        if (l && l->narrow && l->tx_free > now + PACE_AHEAD_NS)
            continue;
        if (!l || !l->narrow || (!c->frag && !behind_fragment(n, c))) {
            f = c;
            prev = p;
            fl = l;
            break;
        }
        if (!frag) {
            frag = c;
            frag_prev = p;
            frag_l = l;
        }
    }
    if (!f) {
        f = frag;
        prev = frag_prev;
        fl = frag_l;
    }
    if (!f)
        return ZHTP_ERR_AGAIN;
    if (f->len > out_cap)
        return ZHTP_ERR_NOBUF;
    unlink_frame(n, prev, f);
    if (fl && fl->narrow && fl->medium.bandwidth_bps) {
        zhtp_time start = fl->tx_free > now ? fl->tx_free : now;
        fl->tx_free = start + (zhtp_time)f->len * 8u * ZHTP_NS_PER_SEC / fl->medium.bandwidth_bps;
    }
    *link_id = f->link;
    *to = f->to;
    memcpy(out, f->data, f->len);
    zhtp_ssize len = (zhtp_ssize)f->len;
    n->st.tx_frames++;
    n->st.tx_bytes += f->len;
    nfree(n, f, sizeof(frame) + f->len);
    return len;
}

/* ---- lifetime, links ----------------------------------------------------------------------- */

int zhtp_node_new(zhtp_node **out, const zhtp_node_config *cfg, const zhtp_identity *id,
                  zhtp_time now)
{
    if (!out || !cfg || !cfg->rng || !id)
        return ZHTP_ERR_INVAL;
    *out = NULL;
    const zhtp_mem *mem = cfg->mem ? cfg->mem : zhtp_mem_default();
    zhtp_node *n = zhtp_mem_alloc(mem, sizeof *n);
    if (!n)
        return ZHTP_ERR_NOMEM;
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    n->mem = mem;
    n->cfg.mem = mem;
    n->identity = id;
    if (!n->cfg.beacon_interval_ns)
        n->cfg.beacon_interval_ns = ZHTP_NS_PER_SEC;
    if (!n->cfg.beacon_misses)
        n->cfg.beacon_misses = 4;
    if (!n->cfg.rto_initial_ns)
        n->cfg.rto_initial_ns = ZHTP_NS_PER_SEC;
    if (!n->cfg.rto_max_ns)
        n->cfg.rto_max_ns = 8 * ZHTP_NS_PER_SEC;
    if (!n->cfg.max_retransmits)
        n->cfg.max_retransmits = 32;
    if (!n->cfg.hop_limit)
        n->cfg.hop_limit = ZHTP_WIRE_DEFAULT_HOP_LIMIT;
    if (!n->cfg.max_queue_bytes)
        n->cfg.max_queue_bytes = 4u << 20;
    memcpy(n->self, zhtp_identity_get_public(id)->node_id, ZHTP_NODE_ID_LEN);
    uint8_t seed[8];
    cfg->rng(cfg->user_data, seed, sizeof seed);
    n->next_msg_id = get_u64(seed) | 1;
    n->next_frag_tag = (uint16_t)(seed[0] << 8 | seed[1]);
    n->next_rlink = 1;

    n->next_self_locate = ZHTP_TIME_NEVER;
    n->now = now;
    zhtp_router_config rc = {
        .mem = mem,
        .rng = node_rng,
        .lookup = node_lookup,
        .user_data = n,
        .refresh_ns = cfg->route_refresh_ns,
    };
    int err = zhtp_router_new(&n->router, &rc, n->self, now);
    if (err != ZHTP_OK)
        goto fail;
    /* Small reassembly budget: a node holds a few partial packets per neighbour, not MiBs. */
    zhtp_wire_reasm_config ra = {
        .mem = mem,
        .max_bytes_per_peer = 256u << 10,
        .max_bytes_total = 1u << 20,
        .max_packets_per_peer = 4,
        .max_packets_total = 64,
        .timeout_ns = 10 * ZHTP_NS_PER_SEC,
        .finished_memory = 32,
    };
    err = zhtp_wire_reasm_new(&n->reasm, &ra);
    if (err != ZHTP_OK)
        goto fail;
    n->secure = !cfg->insecure_plaintext;
    if (n->secure) {
        zhtp_session_config sc = {.mem = mem, .rng = cfg->rng, .user_data = cfg->user_data};
        err = zhtp_session_new(&n->sess, &sc, id, now);
        if (err != ZHTP_OK)
            goto fail;
    }
    n->cfg.dht = NULL; /* the caller's struct is not kept */
    if (cfg->dht) {
        zhtp_dht_config dc = *cfg->dht;
        if (!dc.mem)
            dc.mem = mem;
        if (!dc.rng) {
            dc.rng = node_rng;
            dc.rng_user_data = n;
        }
        dc.locator = (zhtp_dht_locator_ops){hook_loc_get, hook_loc_put, n};
        err = loc_cache_new(&n->locs, mem,
                            cfg->locator_cache ? cfg->locator_cache : LOCATOR_CACHE_DEF);
        if (err != ZHTP_OK)
            goto fail;
        err = zhtp_dht_new(&n->dht, &dc, n->self, now);
        if (err != ZHTP_OK)
            goto fail;
    }
    *out = n;
    return ZHTP_OK;
fail:
    zhtp_node_free(n);
    return err;
}

void zhtp_node_free(zhtp_node *n)
{
    if (!n)
        return;
    while (n->q_head) {
        frame *f = n->q_head;
        n->q_head = f->next;
        nfree(n, f, sizeof(frame) + f->len);
    }
    while (n->ev_head) {
        event_entry *e = n->ev_head;
        n->ev_head = e->next;
        nfree(n, e, e->alloc_len);
    }
    if (n->ev_last)
        nfree(n, n->ev_last, n->ev_last->alloc_len);
    while (n->pend) {
        pending *p = n->pend;
        n->pend = p->next;
        nfree(n, p, sizeof(pending) + p->len);
    }
    zhtp_dht_free(n->dht);
    loc_cache_free(n->locs);
    zhtp_session_free(n->sess);
    zhtp_router_free(n->router);
    zhtp_wire_reasm_free(n->reasm);
    nfree(n, n->links, n->cap_links * sizeof(link));
    nfree(n, n->nbrs, n->cap_nbrs * sizeof(nbr));
    const zhtp_mem *mem = n->mem;
    zhtp_mem_free(mem, n, sizeof *n);
}

int zhtp_node_link_add(zhtp_node *n, zhtp_link_id link_id, uint32_t mtu,
                       const zhtp_route_medium *medium, zhtp_time now)
{
    if (!n || !medium || link_id == ZHTP_NODE_LINK_MESH)
        return ZHTP_ERR_INVAL;
    if (!mtu)
        mtu = medium->mtu;
    if (mtu < ZHTP_WIRE_MIN_MTU || mtu > ZHTP_WIRE_MAX_MTU)
        return ZHTP_ERR_INVAL;
    if (find_link(n, link_id) >= 0)
        return ZHTP_ERR_EXISTS;
    int rc = grow(n, (void **)&n->links, &n->cap_links, n->n_links, sizeof(link));
    if (rc != ZHTP_OK)
        return rc;
    link *l = &n->links[n->n_links++];
    memset(l, 0, sizeof *l);
    l->id = link_id;
    l->mtu = mtu;
    l->medium = *medium;
    l->narrow = link_is_narrow(mtu, medium);
    l->next_beacon = now + beacon_interval(n);
    l->vm_credit = (zhtp_time)VM_BURST * VM_COST_NS;
    l->vm_last = now;
    l->tx_free = now;
    zhtp_addr bcast = {0};
    rc = send_discovery(n, (uint32_t)(n->n_links - 1), &bcast, ZHTP_WIRE_DISCOVERY_SOLICIT, true,
                        NULL, now);
    if (rc == ZHTP_ERR_NOMEM)
        n->n_links--; /* as before the call */
    return rc;
}

int zhtp_node_link_remove(zhtp_node *n, zhtp_link_id link_id, zhtp_time now)
{
    if (!n)
        return ZHTP_ERR_INVAL;
    int li = find_link(n, link_id);
    if (li < 0)
        return ZHTP_ERR_NOTFOUND;
    for (size_t i = 0; i < n->n_nbrs;) {
        if (n->nbrs[i].link_idx == (uint32_t)li)
            nbr_remove(n, i, now);
        else
            i++;
    }
    /* Keep link indices of neighbours valid: move the last link into the hole. */
    size_t last = n->n_links - 1;
    if ((size_t)li != last) {
        n->links[li] = n->links[last];
        for (size_t i = 0; i < n->n_nbrs; i++)
            if (n->nbrs[i].link_idx == last)
                n->nbrs[i].link_idx = (uint32_t)li;
    }
    n->n_links--;
    return pump_router(n, now);
}

/* ---- getters -------------------------------------------------------------------------------- */

void zhtp_node_get_stats(const zhtp_node *n, zhtp_node_stats *st)
{
    if (n && st)
        *st = n->st;
}

size_t zhtp_node_session_stats(const zhtp_node *n, zhtp_session_stats *st)
{
    if (st)
        memset(st, 0, sizeof *st);
    if (!n || !n->sess)
        return 0;
    if (st)
        zhtp_session_get_stats(n->sess, st);
    return zhtp_session_count(n->sess);
}

const uint8_t *zhtp_node_id(const zhtp_node *n)
{
    return n->self;
}

const zhtp_router *zhtp_node_router(const zhtp_node *n)
{
    return n->router;
}

size_t zhtp_node_neighbour_count(const zhtp_node *n)
{
    return n->n_nbrs;
}

void zhtp_node_set_max_connections(zhtp_node *n, uint32_t max)
{
    if (n->secure)
        zhtp_session_set_max_connections(
            n->sess, max ? max : (uint32_t)ZHTP_SESSION_DEFAULT_MAX_CONNECTIONS);
}

int zhtp_node_disconnect(zhtp_node *n, const uint8_t peer[ZHTP_NODE_ID_LEN], zhtp_time now)
{
    bool found = false;
    for (size_t i = n->n_nbrs; i-- > 0;) /* nbr_remove moves the last entry into slot i */
        if (memcmp(n->nbrs[i].id, peer, ZHTP_NODE_ID_LEN) == 0) {
            nbr_remove(n, i, now);
            found = true;
        }
    return found ? ZHTP_OK : ZHTP_ERR_NOTFOUND;
}

zhtp_dht *zhtp_node_dht(zhtp_node *n)
{
    return n ? n->dht : NULL;
}

int zhtp_node_find_prefix(zhtp_node *n, const uint8_t *prefix, size_t bits,
                          uint8_t id[ZHTP_NODE_ID_LEN], zhtp_time now)
{
    if (!n || !prefix || !id || bits < 1 || bits > 256)
        return ZHTP_ERR_INVAL;
    n->now = now;
    /* The lookup target: the prefix, padded with zeros (its own bits past |bits| ignored). */
    uint8_t key[ZHTP_NODE_ID_LEN] = {0};
    memcpy(key, prefix, (bits + 7) / 8);
    if (bits % 8)
        key[bits / 8] &= (uint8_t)(0xFFu << (8 - bits % 8));
    const uint8_t *found = NULL;
    if (loc_prefix_eq(n->self, key, bits))
        found = n->self;
    for (size_t i = 0; !found && i < n->n_nbrs; i++)
        if (loc_prefix_eq(n->nbrs[i].id, key, bits))
            found = n->nbrs[i].id;
    if (found) {
        memcpy(id, found, ZHTP_NODE_ID_LEN);
        return ZHTP_OK;
    }
    if (n->locs && loc_cache_find_prefix(n->locs, key, bits, id, now)) {
        locate_clear(n, key, bits);
        return ZHTP_OK;
    }
    if (n->dht) {
        uint8_t close[4][ZHTP_DHT_ID_LEN];
        size_t nc = zhtp_dht_closest(n->dht, key, close, 4);
        for (size_t i = 0; i < nc; i++)
            if (loc_prefix_eq(close[i], key, bits)) {
                memcpy(id, close[i], ZHTP_NODE_ID_LEN);
                locate_clear(n, key, bits);
                return ZHTP_OK;
            }
    }
    int rc = locate_request(n, key, bits, now);
    int prc = pump_dht(n, now);
    return prc == ZHTP_ERR_NOMEM ? prc : rc;
}
