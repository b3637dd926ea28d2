/* zhtpd's TUN interface on libuv. See tun.h for what it owns and docs/tun.md for the design. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime.h"
#include "tun.h"
#include "tun_offload.h"

/* A read batch ends after this many packets or bytes, then the node's output is drained: big
 * enough to amortise the drain, small enough that the node's frame queue (4 MiB by default)
 * takes a whole batch of maximum-size packets fragmented for the links. */
#define TUN_BATCH_PACKETS 64
#define TUN_BATCH_BYTES   (512 * 1024)
#define TUN_CACHE         256 /* id prefix -> full id, direct-mapped on the prefix's first byte */
#define TUN_PEND_DESTS    16  /* destinations whose lookup is under way */
#define TUN_PEND_PKTS     4   /* packets kept per such destination */
#define TUN_PEND_TTL      (3 * ZHTP_NS_PER_SEC)
#define TUN_PEND_POLL_MS  50
#define TUN_ICMP_BURST    10
#define TUN_ICMP_INTERVAL (100 * ZHTP_NS_PER_MS) /* then 10 errors/s */
/* With offload the kernel's TCP sizes super-packets to gso_max_size minus its header reserve;
 * this keeps them well inside ZHTP_NODE_MAX_MESSAGE whatever BIG TCP settings say. */
#define TUN_GSO_MAX_SIZE 65000
/* Largest read with offload: a virtio_net_hdr and an IPv6 packet of 65,535 payload bytes. */
#define TUN_OFFLOAD_READ (ZHTP_VNET_HDR_LEN + ZHTP_IP6_HDR_LEN + ZHTP_IP6_MAX_LEN)

typedef struct tun_cache_entry {
    bool used;
    uint8_t id[ZHTP_NODE_ID_LEN];
} tun_cache_entry;

typedef struct tun_pending {
    bool used;
    uint8_t prefix[ZHTP_IP6_ID_BYTES];
    zhtp_time since;
    size_t n;
    uint32_t len[TUN_PEND_PKTS];
} tun_pending;

struct zhtp_rt_tun {
    zhtp_rt_tun_config cfg;
    int fd;
    uv_poll_t poll;
    uv_timer_t pend_timer;
    bool timer_on;
    char name[ZHTP_RT_TUN_NAME_MAX];
    uint8_t own[ZHTP_IP6_ADDR_LEN];
    char own_str[48];
    uint32_t mesh_mtu;
    bool vnet;       /* IFF_VNET_HDR: every read and write starts with a virtio_net_hdr */
    bool tso;        /* TUNSETOFFLOAD granted: super-packets in, GSO writes out */
    size_t rbuf_cap; /* the interface MTU, or TUN_OFFLOAD_READ with a vnet header */
    uint8_t *rbuf;   /* one packet read */
    uint8_t *arena; /* TUN_PEND_DESTS * TUN_PEND_PKTS packets of mesh_mtu, allocated on first use */
    tun_cache_entry cache[TUN_CACHE];
    tun_pending pend[TUN_PEND_DESTS];
    size_t n_pend;
    zhtp_ip6_ratelim icmp_rl;
    zhtp_rt_tun_stats st;
};

const char *zhtp_rt_tun_drop_name(zhtp_rt_tun_drop d)
{
    static const char *const names[ZHTP_RT_TUN_DROP_COUNT] = {
        "out_malformed", "out_not_mesh", "out_bad_src", "out_bad_dst",  "too_big",    "unreachable",
        "pending",       "no_route",     "halted",      "in_malformed", "in_bad_src", "in_bad_dst",
        "tun_full",      "tun_error",    "oversize",    "pending_gso",
    };
    return (unsigned)d < ZHTP_RT_TUN_DROP_COUNT ? names[d] : "unknown";
}

static void tlog(zhtp_rt_tun *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tlog(zhtp_rt_tun *t, int level, const char *fmt, ...)
{
    if (t->cfg.log == NULL)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->cfg.log(t->cfg.user_data, level, msg);
}

static zhtp_time tnow(zhtp_rt_tun *t)
{
    return t->cfg.now(t->cfg.user_data);
}

/* ---- writing to the interface ---- */

/* |iov| holds one packet of |len| bytes (after the vnet header, when there is one). */
static bool tun_writev(zhtp_rt_tun *t, const struct iovec *iov, int n_iov, size_t len)
{
    ssize_t k = writev(t->fd, iov, n_iov);
    if (k >= 0 && (size_t)k == len + (t->vnet ? ZHTP_VNET_HDR_LEN : 0)) {
        t->st.in_packets++;
        t->st.in_bytes += len;
        return true;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        t->st.drops[ZHTP_RT_TUN_DROP_TUN_FULL]++;
    else
        t->st.drops[ZHTP_RT_TUN_DROP_TUN_ERROR]++;
    return false;
}

/* A packet with a complete checksum: with a vnet header, an all-zero one (no offload asked). */
static void tun_write(zhtp_rt_tun *t, const uint8_t *pkt, size_t len)
{
    static const uint8_t zero_hdr[ZHTP_VNET_HDR_LEN];
    struct iovec iov[2] = {{(void *)zero_hdr, sizeof zero_hdr}, {(void *)pkt, len}};
    if (t->vnet)
        tun_writev(t, iov, 2, len);
    else
        tun_writev(t, iov + 1, 1, len);
}

/* An ICMPv6 error about |orig| (a packet the host sent) back to the host, rate-limited. */
static void send_icmp_error(zhtp_rt_tun *t, uint8_t type, uint8_t code, uint32_t param,
                            const uint8_t *orig, size_t len)
{
    if (!zhtp_ip6_may_send_error(orig, len))
        return;
    if (!zhtp_ip6_ratelim_take(&t->icmp_rl, tnow(t))) {
        t->st.icmp_limited++;
        return;
    }
    uint8_t out[ZHTP_ICMP6_ERROR_MAX_LEN];
    zhtp_ssize n = zhtp_ip6_icmp6_error(out, sizeof out, type, code, param, orig, len);
    if (n < 0)
        return;
    t->st.icmp_sent++;
    tun_write(t, out, (size_t)n);
}

/* ---- id prefix -> full node id ---- */

static tun_cache_entry *cache_slot(zhtp_rt_tun *t, const uint8_t *prefix)
{
    return &t->cache[prefix[0]]; /* node ids are hashes: the first byte is uniform */
}

static void cache_put(zhtp_rt_tun *t, const uint8_t id[ZHTP_NODE_ID_LEN])
{
    tun_cache_entry *c = cache_slot(t, id);
    c->used = true;
    memcpy(c->id, id, ZHTP_NODE_ID_LEN);
}

/* ZHTP_OK with |id|, ZHTP_ERR_AGAIN (lookup under way) or ZHTP_ERR_NOTFOUND. */
static int resolve(zhtp_rt_tun *t, const uint8_t prefix[ZHTP_IP6_ID_BYTES],
                   uint8_t id[ZHTP_NODE_ID_LEN])
{
    tun_cache_entry *c = cache_slot(t, prefix);
    if (c->used && memcmp(c->id, prefix, ZHTP_IP6_ID_BYTES) == 0) {
        memcpy(id, c->id, ZHTP_NODE_ID_LEN);
        return ZHTP_OK;
    }
    int rc = ZHTP_ERR_NOTFOUND;
    if (t->cfg.resolve != NULL && t->cfg.resolve(t->cfg.user_data, prefix, id))
        rc = ZHTP_OK;
    if (rc != ZHTP_OK) /* neighbours, the locator cache, the DHT (a lookup may start) */
        rc = zhtp_node_find_prefix(t->cfg.node, prefix, ZHTP_IP6_ID_BITS, id, tnow(t));
    if (rc == ZHTP_OK)
        cache_put(t, id);
    return rc;
}

/* ---- into the mesh ---- */

static void send_to_node(zhtp_rt_tun *t, const uint8_t id[ZHTP_NODE_ID_LEN], const uint8_t *pkt,
                         size_t len)
{
    int rc = zhtp_node_send(t->cfg.node, id, pkt, len, ZHTP_NODE_SEND_IP6, tnow(t), NULL);
    if (rc != ZHTP_OK) {
        t->st.drops[ZHTP_RT_TUN_DROP_NO_ROUTE]++;
        return;
    }
    t->st.out_packets++;
    t->st.out_bytes += len;
}

static void pend_free(zhtp_rt_tun *t, tun_pending *p)
{
    p->used = false;
    p->n = 0;
    t->n_pend--;
    if (t->n_pend == 0 && t->timer_on) {
        uv_timer_stop(&t->pend_timer);
        t->timer_on = false;
    }
}

static uint8_t *pend_buf(zhtp_rt_tun *t, const tun_pending *p, size_t k)
{
    size_t slot = (size_t)(p - t->pend) * TUN_PEND_PKTS + k;
    return t->arena + slot * t->mesh_mtu;
}

static void on_pend_timer(uv_timer_t *h);

/* Keeps a packet while its destination's lookup runs: at most TUN_PEND_PKTS per destination
 * and TUN_PEND_DESTS destinations; beyond that the packet is dropped (as a router with a full
 * neighbour-discovery queue does), so a host scanning the prefix cannot grow memory. */
static void pend_add(zhtp_rt_tun *t, const uint8_t *prefix, const uint8_t *pkt, size_t len)
{
    if (t->arena == NULL) {
        t->arena = malloc((size_t)TUN_PEND_DESTS * TUN_PEND_PKTS * t->mesh_mtu);
        if (t->arena == NULL) {
            t->st.drops[ZHTP_RT_TUN_DROP_PENDING]++;
            return;
        }
    }
    tun_pending *p = NULL, *free_slot = NULL;
    for (size_t i = 0; i < TUN_PEND_DESTS; i++) {
        if (!t->pend[i].used) {
            if (free_slot == NULL)
                free_slot = &t->pend[i];
        } else if (memcmp(t->pend[i].prefix, prefix, ZHTP_IP6_ID_BYTES) == 0) {
            p = &t->pend[i];
            break;
        }
    }
    if (p == NULL) {
        if (free_slot == NULL) {
            t->st.drops[ZHTP_RT_TUN_DROP_PENDING]++;
            return;
        }
        p = free_slot;
        p->used = true;
        p->n = 0;
        p->since = tnow(t);
        memcpy(p->prefix, prefix, ZHTP_IP6_ID_BYTES);
        t->n_pend++;
    }
    if (p->n == TUN_PEND_PKTS) {
        t->st.drops[ZHTP_RT_TUN_DROP_PENDING]++;
        return;
    }
    memcpy(pend_buf(t, p, p->n), pkt, len);
    p->len[p->n++] = (uint32_t)len;
    if (!t->timer_on) {
        uv_timer_start(&t->pend_timer, on_pend_timer, TUN_PEND_POLL_MS, TUN_PEND_POLL_MS);
        t->timer_on = true;
    }
}

/* Asks again for every destination in the queue: sends its packets once the id is known,
 * answers them with Unreachable once the lookup found nothing, drops them after TUN_PEND_TTL. */
static void on_pend_timer(uv_timer_t *h)
{
    zhtp_rt_tun *t = h->data;
    zhtp_time now = tnow(t);
    bool sent = false;
    for (size_t i = 0; i < TUN_PEND_DESTS; i++) {
        tun_pending *p = &t->pend[i];
        if (!p->used)
            continue;
        uint8_t id[ZHTP_NODE_ID_LEN];
        int rc = resolve(t, p->prefix, id);
        if (rc == ZHTP_ERR_AGAIN && now - p->since < TUN_PEND_TTL)
            continue;
        bool halted = t->cfg.is_halted != NULL && t->cfg.is_halted(t->cfg.user_data);
        for (size_t k = 0; k < p->n; k++) {
            uint8_t *pkt = pend_buf(t, p, k);
            if (rc == ZHTP_OK && !halted) {
                send_to_node(t, id, pkt, p->len[k]);
                sent = true;
            } else if (rc == ZHTP_OK) {
                t->st.drops[ZHTP_RT_TUN_DROP_HALTED]++;
            } else if (rc == ZHTP_ERR_AGAIN) {
                t->st.drops[ZHTP_RT_TUN_DROP_PENDING]++;
            } else {
                t->st.drops[ZHTP_RT_TUN_DROP_UNREACHABLE]++;
                send_icmp_error(t, ZHTP_ICMP6_DST_UNREACH, ZHTP_ICMP6_UNREACH_ADDR, 0, pkt,
                                p->len[k]);
            }
        }
        pend_free(t, p);
    }
    if (sent && t->cfg.after_input != NULL)
        t->cfg.after_input(t->cfg.user_data);
}

/* One packet the host wrote to the interface; |vh|: its vnet header (NULL: none). */
static void from_host(zhtp_rt_tun *t, uint8_t *pkt, size_t len, const zhtp_vnet_hdr *vh)
{
    size_t seg_len = len; /* what the packet would have been without offload (its segments) */
    if (vh != NULL) {
        if (zhtp_tun_offload_from_host(pkt, len, vh, &seg_len) != ZHTP_OK) {
            t->st.drops[ZHTP_RT_TUN_DROP_OUT_MALFORMED]++;
            return;
        }
        if (vh->gso_type != ZHTP_VNET_GSO_NONE)
            t->st.gso_in++;
    }
    zhtp_ip6_verdict v = zhtp_ip6_check_outbound(pkt, len, t->own);
    if (v != ZHTP_IP6_OK) {
        static const zhtp_rt_tun_drop map[ZHTP_IP6_VERDICT_COUNT] = {
            [ZHTP_IP6_MALFORMED] = ZHTP_RT_TUN_DROP_OUT_MALFORMED,
            [ZHTP_IP6_NOT_MESH] = ZHTP_RT_TUN_DROP_OUT_NOT_MESH,
            [ZHTP_IP6_BAD_SRC] = ZHTP_RT_TUN_DROP_OUT_BAD_SRC,
            [ZHTP_IP6_BAD_DST] = ZHTP_RT_TUN_DROP_OUT_BAD_DST,
        };
        t->st.drops[map[v]]++;
        return;
    }
    if (t->cfg.is_halted != NULL && t->cfg.is_halted(t->cfg.user_data)) {
        t->st.drops[ZHTP_RT_TUN_DROP_HALTED]++;
        return;
    }
    /* A super-packet stands for segments of seg_len bytes: those are what the mesh MTU
     * limits (the far end hands the host the same segments, or one buffer of them). */
    if (seg_len > t->mesh_mtu) {
        t->st.drops[ZHTP_RT_TUN_DROP_TOO_BIG]++;
        send_icmp_error(t, ZHTP_ICMP6_PACKET_TOO_BIG, 0, t->mesh_mtu, pkt, len);
        return;
    }
    if (len > ZHTP_NODE_MAX_MESSAGE) { /* TUN_GSO_MAX_SIZE not applied: TCP retransmits */
        t->st.drops[ZHTP_RT_TUN_DROP_OVERSIZE]++;
        return;
    }
    uint8_t prefix[ZHTP_IP6_ID_BYTES], id[ZHTP_NODE_ID_LEN];
    zhtp_ip6_addr_id_prefix(pkt + 24, prefix);
    int rc = resolve(t, prefix, id);
    if (rc == ZHTP_OK) {
        send_to_node(t, id, pkt, len);
    } else if (rc == ZHTP_ERR_AGAIN && len > t->mesh_mtu) {
        /* The queue's slots are mesh_mtu bytes. Not segmented: a TCP flow is past its first
         * round trips (and so past the lookup) before it sends super-packets; one lost here
         * is retransmitted like any other loss. */
        t->st.drops[ZHTP_RT_TUN_DROP_PENDING_GSO]++;
    } else if (rc == ZHTP_ERR_AGAIN) {
        pend_add(t, prefix, pkt, len);
    } else {
        t->st.drops[ZHTP_RT_TUN_DROP_UNREACHABLE]++;
        send_icmp_error(t, ZHTP_ICMP6_DST_UNREACH, ZHTP_ICMP6_UNREACH_ADDR, 0, pkt, len);
    }
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    zhtp_rt_tun *t = h->data;
    if (status < 0 || !(events & UV_READABLE))
        return;
    size_t pkts = 0, bytes = 0;
    /* TUN gives one packet per read(); a batch amortises the node drain that follows. */
    while (pkts < TUN_BATCH_PACKETS && bytes < TUN_BATCH_BYTES) {
        ssize_t k = read(t->fd, t->rbuf, t->rbuf_cap);
        if (k < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                tlog(t, ZHTP_RT_LOG_WARN, "tun %s: read: %s", t->name, strerror(errno));
            break;
        }
        pkts++;
        bytes += (size_t)k;
        if (!t->vnet) {
            from_host(t, t->rbuf, (size_t)k, NULL);
        } else if ((size_t)k < ZHTP_VNET_HDR_LEN) {
            t->st.drops[ZHTP_RT_TUN_DROP_OUT_MALFORMED]++;
        } else {
            zhtp_vnet_hdr vh;
            zhtp_vnet_hdr_decode(t->rbuf, &vh);
            from_host(t, t->rbuf + ZHTP_VNET_HDR_LEN, (size_t)k - ZHTP_VNET_HDR_LEN, &vh);
        }
    }
    if (pkts > 0 && t->cfg.after_input != NULL)
        t->cfg.after_input(t->cfg.user_data);
}

/* ---- out of the mesh ---- */

void zhtp_rt_tun_deliver(zhtp_rt_tun *t, const uint8_t sender[ZHTP_NODE_ID_LEN], const uint8_t *pkt,
                         size_t len)
{
    zhtp_ip6_verdict v = zhtp_ip6_check_inbound(pkt, len, sender, t->own);
    if (v != ZHTP_IP6_OK) {
        t->st.drops[v == ZHTP_IP6_BAD_SRC   ? ZHTP_RT_TUN_DROP_IN_BAD_SRC
                    : v == ZHTP_IP6_BAD_DST ? ZHTP_RT_TUN_DROP_IN_BAD_DST
                                            : ZHTP_RT_TUN_DROP_IN_MALFORMED]++;
        return;
    }
    /* The sender is authenticated by its session: its id answers our replies without a lookup. */
    cache_put(t, sender);
    if (!t->tso) {
        tun_write(t, pkt, len);
        return;
    }
    zhtp_vnet_hdr vh;
    uint8_t check[2];
    int rc = zhtp_tun_offload_to_host(pkt, len, t->cfg.mtu, &vh, check);
    if (rc < 0) { /* TCP above our MTU with a broken header: not for the kernel's GSO */
        t->st.drops[ZHTP_RT_TUN_DROP_IN_MALFORMED]++;
        return;
    }
    if (rc == 0) {
        tun_write(t, pkt, len);
        return;
    }
    /* The checksum field goes out replaced (pkt is borrowed const): header, the packet up to
     * the field, the partial sum, the rest. len > MTU >= 1,280 covers the split points. */
    uint8_t hdr[ZHTP_VNET_HDR_LEN];
    zhtp_vnet_hdr_encode(&vh, hdr);
    size_t at = ZHTP_IP6_HDR_LEN + ZHTP_TUN_OFFLOAD_TCP_CSUM;
    struct iovec iov[4] = {{hdr, sizeof hdr},
                           {(void *)pkt, at},
                           {check, sizeof check},
                           {(void *)(pkt + at + 2), len - at - 2}};
    if (tun_writev(t, iov, 4, len))
        t->st.gso_out++;
}

/* ---- creating the interface ---- */

/* Sends one rtnetlink request (NLM_F_ACK set) and reads its acknowledgement. 0, or -1 with
 * "|what|: reason" in |err|. */
static int nl_request(struct nlmsghdr *req, const char *what, char *err, size_t err_cap)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) {
        snprintf(err, err_cap, "netlink socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int rc = -1;
    if (sendto(s, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        snprintf(err, err_cap, "netlink send: %s", strerror(errno));
        goto out;
    }
    char buf[1024];
    ssize_t k = recv(s, buf, sizeof buf, 0);
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    if (k < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || nh->nlmsg_type != NLMSG_ERROR) {
        snprintf(err, err_cap, "netlink: no acknowledgement");
        goto out;
    }
    const struct nlmsgerr *e = NLMSG_DATA(nh);
    if (e->error != 0) {
        snprintf(err, err_cap, "%s: %s", what, strerror(-e->error));
        goto out;
    }
    rc = 0;
out:
    close(s);
    return rc;
}

/* IFLA_GSO_MAX_SIZE (RTM_NEWLINK on the existing link): the largest super-packet TCP builds. */
static int set_gso_max_size(int ifindex, uint32_t size, char *err, size_t err_cap)
{
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        char attrs[RTA_SPACE(sizeof(uint32_t))];
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_type = RTM_NEWLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.nh.nlmsg_seq = 2;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = ifindex;
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifi);
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = IFLA_GSO_MAX_SIZE;
    rta->rta_len = RTA_LENGTH(sizeof size);
    memcpy(RTA_DATA(rta), &size, sizeof size);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_SPACE(sizeof size);
    return nl_request(&req.nh, "gso_max_size", err, err_cap);
}

static int set_address(int ifindex, const uint8_t addr[ZHTP_IP6_ADDR_LEN], char *err,
                       size_t err_cap)
{
    struct {
        struct nlmsghdr nh;
        struct ifaddrmsg ifa;
        char attrs[2 * RTA_SPACE(ZHTP_IP6_ADDR_LEN)];
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_type = RTM_NEWADDR;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    req.nh.nlmsg_seq = 1;
    req.ifa.ifa_family = AF_INET6;
    req.ifa.ifa_prefixlen = ZHTP_IP6_PREFIX_BITS; /* the whole mesh prefix routes into the TUN */
    req.ifa.ifa_flags = IFA_F_NODAD; /* the address is ours by construction of the id */
    req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    req.ifa.ifa_index = (unsigned)ifindex;
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
    unsigned short types[2] = {IFA_LOCAL, IFA_ADDRESS};
    for (int i = 0; i < 2; i++) {
        struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
        rta->rta_type = types[i];
        rta->rta_len = RTA_LENGTH(ZHTP_IP6_ADDR_LEN);
        memcpy(RTA_DATA(rta), addr, ZHTP_IP6_ADDR_LEN);
        req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_SPACE(ZHTP_IP6_ADDR_LEN);
    }
    return nl_request(&req.nh, "adding the address", err, err_cap);
}

/* MTU, link up and address. ioctl on an AF_INET6 datagram socket: no IPv6 in the kernel fails
 * here with a clear message rather than later with silence. */
static int configure(zhtp_rt_tun *t, char *err, size_t err_cap)
{
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, err_cap, "IPv6 socket: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", t->name);
    int rc = -1;
    ifr.ifr_mtu = (int)t->cfg.mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) != 0) {
        snprintf(err, err_cap, "setting MTU %u: %s", t->cfg.mtu, strerror(errno));
        goto out;
    }
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
        snprintf(err, err_cap, "reading flags: %s", strerror(errno));
        goto out;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
        snprintf(err, err_cap, "link up: %s", strerror(errno));
        goto out;
    }
    if (ioctl(s, SIOCGIFINDEX, &ifr) != 0) {
        snprintf(err, err_cap, "interface index: %s", strerror(errno));
        goto out;
    }
    if (t->tso) {
        char why[160];
        if (set_gso_max_size(ifr.ifr_ifindex, TUN_GSO_MAX_SIZE, why, sizeof why) != 0)
            tlog(t, ZHTP_RT_LOG_INFO,
                 "tun %s: %s (super-packets above %u bytes will be dropped as oversize)", t->name,
                 why, (unsigned)ZHTP_NODE_MAX_MESSAGE);
    }
    rc = set_address(ifr.ifr_ifindex, t->own, err, err_cap);
out:
    close(s);
    return rc;
}

int zhtp_rt_tun_open(zhtp_rt_tun **out, const zhtp_rt_tun_config *cfg, char *err, size_t err_cap)
{
    *out = NULL;
    char why[200] = "";
    if (cfg->name == NULL || cfg->name[0] == '\0' || strlen(cfg->name) >= ZHTP_RT_TUN_NAME_MAX) {
        snprintf(err, err_cap, "tun: interface name must be 1..15 bytes");
        return -1;
    }
    uint32_t mesh = cfg->mesh_mtu ? cfg->mesh_mtu : cfg->mtu;
    if (cfg->mtu < ZHTP_IP6_MIN_MTU || cfg->mtu > ZHTP_IP6_MAX_LEN || mesh < ZHTP_IP6_MIN_MTU ||
        mesh > cfg->mtu || mesh > ZHTP_NODE_MAX_MESSAGE) {
        snprintf(err, err_cap,
                 "tun %s: MTU %u / mesh MTU %u out of range (1280..65535, mesh <= MTU)", cfg->name,
                 cfg->mtu, mesh);
        return -1;
    }
    zhtp_rt_tun *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, err_cap, "tun: out of memory");
        return -1;
    }
    t->cfg = *cfg;
    t->fd = -1;
    t->mesh_mtu = mesh;
    t->icmp_rl.burst = TUN_ICMP_BURST;
    t->icmp_rl.interval_ns = TUN_ICMP_INTERVAL;
    zhtp_ip6_addr_from_id(zhtp_node_id(cfg->node), t->own);
    struct in6_addr a6;
    memcpy(&a6, t->own, sizeof a6);
    inet_ntop(AF_INET6, &a6, t->own_str, sizeof t->own_str);
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        int e = errno;
        snprintf(why, sizeof why, "/dev/net/tun: %s%s", strerror(e),
                 e == EACCES || e == EPERM || e == ENOENT || e == ENODEV
                     ? " (a TUN needs root or CAP_NET_ADMIN and the tun module; run with "
                       "--no-tun to do without)"
                     : "");
        goto fail;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (cfg->offload ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", cfg->name);
    int set = ioctl(t->fd, TUNSETIFF, &ifr);
    if (set != 0 && cfg->offload && errno == EINVAL) { /* no IFF_VNET_HDR: run without */
        tlog(t, ZHTP_RT_LOG_INFO, "tun %s: IFF_VNET_HDR refused (%s): no segmentation offload",
             cfg->name, strerror(errno));
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        set = ioctl(t->fd, TUNSETIFF, &ifr);
    }
    if (set != 0) {
        int e = errno;
        snprintf(why, sizeof why, "TUNSETIFF: %s%s", strerror(e),
                 e == EPERM   ? " (needs CAP_NET_ADMIN; run with --no-tun to do without)"
                 : e == EBUSY ? " (the name is in use)"
                              : "");
        goto fail;
    }
    snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);
    t->vnet = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    if (t->vnet) {
        /* Little-endian header fields on every host (tun_offload.h encodes them so). Without
         * that, or without the offload itself, the header stays all zero both ways. */
        int le = 1;
        if (ioctl(t->fd, TUNSETVNETLE, &le) != 0)
            tlog(t, ZHTP_RT_LOG_INFO, "tun %s: TUNSETVNETLE refused (%s): no segmentation offload",
                 t->name, strerror(errno));
        else if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO6)) != 0)
            tlog(t, ZHTP_RT_LOG_INFO, "tun %s: TUNSETOFFLOAD refused (%s): no segmentation offload",
                 t->name, strerror(errno));
        else
            t->tso = true;
    }
    t->rbuf_cap = t->vnet ? TUN_OFFLOAD_READ : cfg->mtu;
    t->rbuf = malloc(t->rbuf_cap);
    if (t->rbuf == NULL) {
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }
    if (configure(t, why, sizeof why) != 0)
        goto fail;
    if (uv_poll_init(cfg->loop, &t->poll, t->fd) != 0) {
        snprintf(why, sizeof why, "uv_poll_init failed");
        goto fail;
    }
    t->poll.data = t;
    uv_timer_init(cfg->loop, &t->pend_timer);
    t->pend_timer.data = t;
    uv_poll_start(&t->poll, UV_READABLE, on_readable);
    tlog(t, ZHTP_RT_LOG_INFO, "tun %s up: %s/%d, MTU %u, mesh MTU %u, offload %s", t->name,
         t->own_str, ZHTP_IP6_PREFIX_BITS, cfg->mtu, mesh, t->tso ? "on (TSO6)" : "off");
    *out = t;
    return 0;
fail:
    snprintf(err, err_cap, "tun %s: %s", cfg->name, why);
    if (t->fd >= 0)
        close(t->fd);
    free(t->rbuf);
    free(t);
    return -1;
}

const char *zhtp_rt_tun_addr(const zhtp_rt_tun *t)
{
    return t->own_str;
}

const char *zhtp_rt_tun_name(const zhtp_rt_tun *t)
{
    return t->name;
}

uint32_t zhtp_rt_tun_mtu(const zhtp_rt_tun *t)
{
    return t->cfg.mtu;
}

uint32_t zhtp_rt_tun_mesh_mtu(const zhtp_rt_tun *t)
{
    return t->mesh_mtu;
}

bool zhtp_rt_tun_offload(const zhtp_rt_tun *t)
{
    return t->tso;
}

void zhtp_rt_tun_get_stats(const zhtp_rt_tun *t, zhtp_rt_tun_stats *st)
{
    *st = t->st;
}

void zhtp_rt_tun_free(zhtp_rt_tun *t)
{
    if (t == NULL)
        return;
    if (t->fd >= 0)
        close(t->fd);
    free(t->rbuf);
    free(t->arena);
    free(t);
}
