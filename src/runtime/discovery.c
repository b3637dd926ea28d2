/* LAN discovery beacons on libuv (discovery.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "discovery.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D_LOG_ERROR = 0, D_LOG_WARN, D_LOG_INFO, D_LOG_DEBUG };

typedef struct disc_if {
    char name[IF_NAMESIZE];
    unsigned index;
    bool has_v6;              /* a link-local address: multicast works there */
    struct sockaddr_in bcast; /* IPv4 broadcast address; sin_family 0: none */
} disc_if;

struct zhtp_rt_disc {
    zhtp_rt_disc_config cfg;
    uint8_t self[ZHTP_NODE_ID_LEN];
    char ifaces[512];
    uv_udp_t u6, u4;
    bool u6_on, u4_on;
    uv_timer_t timer;
    bool timer_on;
    uint8_t rbuf[512];
    zhtp_rt_disc_stats st;
};

/* ---- beacon codec ---- */

zhtp_ssize zhtp_disc_beacon_encode(uint8_t *out, size_t cap, const zhtp_disc_beacon *b)
{
    if (cap < ZHTP_DISC_BEACON_LEN)
        return ZHTP_ERR_NOBUF;
    memcpy(out, ZHTP_DISC_MAGIC, 4);
    out[4] = ZHTP_DISC_VERSION;
    out[5] = 0;
    out[6] = (uint8_t)(b->port >> 8);
    out[7] = (uint8_t)b->port;
    memcpy(out + 8, b->id, ZHTP_NODE_ID_LEN);
    return ZHTP_DISC_BEACON_LEN;
}

int zhtp_disc_beacon_decode(zhtp_disc_beacon *b, const uint8_t *buf, size_t len)
{
    memset(b, 0, sizeof *b);
    if (len < ZHTP_DISC_BEACON_LEN)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (len > ZHTP_DISC_BEACON_LEN)
        return ZHTP_ERR_WIRE_LENGTH;
    if (memcmp(buf, ZHTP_DISC_MAGIC, 4) != 0)
        return ZHTP_ERR_WIRE_MAGIC;
    if (buf[4] != ZHTP_DISC_VERSION)
        return ZHTP_ERR_WIRE_VERSION;
    if (buf[5] != 0)
        return ZHTP_ERR_WIRE_RESERVED;
    uint16_t port = (uint16_t)(buf[6] << 8 | buf[7]);
    if (port == 0)
        return ZHTP_ERR_WIRE_FIELD;
    b->port = port;
    memcpy(b->id, buf + 8, ZHTP_NODE_ID_LEN);
    return ZHTP_OK;
}

/* ---- runtime ---- */

static void dlog(zhtp_rt_disc *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void dlog(zhtp_rt_disc *d, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->cfg.log != NULL)
        d->cfg.log(d->cfg.user_data, level, msg);
}

static bool listed(const zhtp_rt_disc *d, const char *name)
{
    if (d->ifaces[0] == '\0')
        return true;
    size_t n = strlen(name);
    for (const char *p = d->ifaces; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && strncmp(p, name, n) == 0)
            return true;
        p += l;
        if (*p == ',')
            p++;
    }
    return false;
}

/* The enabled interfaces as they are now (addresses come and go: read at every round). */
static size_t scan(const zhtp_rt_disc *d, disc_if *out, size_t cap)
{
    struct ifaddrs *ifa = NULL;
    size_t n = 0;
    if (getifaddrs(&ifa) != 0)
        return 0;
    for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP))
            continue;
        /* Loopback only when named: beacons to ourselves find nobody on a LAN. */
        if ((i->ifa_flags & IFF_LOOPBACK) && d->ifaces[0] == '\0')
            continue;
        if (!listed(d, i->ifa_name))
            continue;
        disc_if *e = NULL;
        for (size_t k = 0; k < n; k++)
            if (strcmp(out[k].name, i->ifa_name) == 0)
                e = &out[k];
        if (e == NULL) {
            if (n >= cap)
                continue;
            e = &out[n++];
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", i->ifa_name);
            e->index = if_nametoindex(i->ifa_name);
        }
        if (i->ifa_addr->sa_family == AF_INET6 && (i->ifa_flags & IFF_MULTICAST) &&
            IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            e->has_v6 = true;
        if (i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_BROADCAST) &&
            i->ifa_broadaddr != NULL)
            memcpy(&e->bcast, i->ifa_broadaddr, sizeof e->bcast);
    }
    freeifaddrs(ifa);
    return n;
}

static void send_round(zhtp_rt_disc *d)
{
    disc_if ifs[ZHTP_DISC_IFACES_MAX];
    size_t n = scan(d, ifs, ZHTP_DISC_IFACES_MAX);
    uint16_t dport = d->cfg.disc_port ? d->cfg.disc_port : ZHTP_DISC_PORT;
    for (size_t i = 0; i < n; i++) {
        zhtp_disc_beacon b;
        uint8_t buf[ZHTP_DISC_BEACON_LEN];
        memcpy(b.id, d->self, sizeof b.id);
        struct sockaddr_storage to;
        uv_udp_t *h = NULL;
        memset(&to, 0, sizeof to);
        if (d->u6_on && ifs[i].has_v6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(dport);
            inet_pton(AF_INET6, ZHTP_DISC_GROUP6, &a->sin6_addr);
            a->sin6_scope_id = ifs[i].index; /* link-local: the scope picks the interface */
            b.port = d->cfg.port6;
            h = &d->u6;
        } else if (d->u4_on && ifs[i].bcast.sin_family == AF_INET) {
            /* The fallback: no IPv6 on this interface or none in the node. */
            struct sockaddr_in *a = (struct sockaddr_in *)&to;
            *a = ifs[i].bcast;
            a->sin_port = htons(dport);
            b.port = d->cfg.port4;
            h = &d->u4;
        } else {
            continue;
        }
        (void)zhtp_disc_beacon_encode(buf, sizeof buf, &b);
        uv_buf_t ub = uv_buf_init((char *)buf, sizeof buf);
        int rc = uv_udp_try_send(h, &ub, 1, (const struct sockaddr *)&to);
        if (rc < 0) {
            d->st.send_errors++;
            dlog(d, D_LOG_DEBUG, "discovery beacon on %s: %s", ifs[i].name, uv_strerror(rc));
        } else {
            d->st.sent++;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    send_round(t->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    zhtp_rt_disc *d = h->data;
    *buf = uv_buf_init((char *)d->rbuf, sizeof d->rbuf);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    zhtp_rt_disc *d = h->data;
    if (n <= 0 || from == NULL || (flags & UV_UDP_PARTIAL))
        return;
    d->st.received++;
    zhtp_disc_beacon b;
    if (zhtp_disc_beacon_decode(&b, (const uint8_t *)buf->base, (size_t)n) != ZHTP_OK) {
        d->st.bad++;
        return;
    }
    if (memcmp(b.id, d->self, ZHTP_NODE_ID_LEN) == 0) {
        d->st.own++; /* multicast loops back to the sender's own socket */
        return;
    }
    /* Untrusted: only the source address (as the kernel saw it) and a port are used. */
    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof peer);
    if (from->sa_family == AF_INET6) {
        memcpy(&peer, from, sizeof(struct sockaddr_in6));
        ((struct sockaddr_in6 *)&peer)->sin6_port = htons(b.port);
    } else if (from->sa_family == AF_INET) {
        memcpy(&peer, from, sizeof(struct sockaddr_in));
        ((struct sockaddr_in *)&peer)->sin_port = htons(b.port);
    } else {
        return;
    }
    d->cfg.found(d->cfg.user_data, (const struct sockaddr *)&peer);
}

static int open_v6(zhtp_rt_disc *d, uint16_t port, char *err, size_t cap)
{
    struct sockaddr_in6 a;
    uv_ip6_addr("::", port, &a);
    uv_udp_init(d->cfg.loop, &d->u6);
    d->u6.data = d;
    d->u6_on = true;
    int rc = uv_udp_bind(&d->u6, (const struct sockaddr *)&a, UV_UDP_IPV6ONLY | UV_UDP_REUSEADDR);
    if (rc == 0)
        rc = uv_udp_set_multicast_loop(&d->u6, 1);
    if (rc == 0)
        rc = uv_udp_set_multicast_ttl(&d->u6, 1); /* link-local: hop limit 1 anyway */
    if (rc != 0) {
        snprintf(err, cap, "discovery: udp [::]:%u: %s", port, uv_strerror(rc));
        return -1;
    }
    disc_if ifs[ZHTP_DISC_IFACES_MAX];
    size_t n = scan(d, ifs, ZHTP_DISC_IFACES_MAX), joined = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ifs[i].has_v6)
            continue;
        char where[sizeof ifs[i].name + 4];
        snprintf(where, sizeof where, "::%%%.*s", (int)(sizeof ifs[i].name - 1), ifs[i].name);
        rc = uv_udp_set_membership(&d->u6, ZHTP_DISC_GROUP6, where, UV_JOIN_GROUP);
        if (rc != 0)
            dlog(d, D_LOG_WARN, "discovery: joining %s on %s: %s", ZHTP_DISC_GROUP6, ifs[i].name,
                 uv_strerror(rc));
        else
            joined++;
    }
    dlog(d, D_LOG_INFO, "discovery: IPv6 beacons to [%s]:%u on %zu interface(s)", ZHTP_DISC_GROUP6,
         port, joined);
    return uv_udp_recv_start(&d->u6, on_alloc, on_recv) == 0 ? 0 : -1;
}

static int open_v4(zhtp_rt_disc *d, uint16_t port, char *err, size_t cap)
{
    struct sockaddr_in a;
    uv_ip4_addr("0.0.0.0", port, &a);
    uv_udp_init(d->cfg.loop, &d->u4);
    d->u4.data = d;
    d->u4_on = true;
    int rc = uv_udp_bind(&d->u4, (const struct sockaddr *)&a, UV_UDP_REUSEADDR);
    if (rc == 0)
        rc = uv_udp_set_broadcast(&d->u4, 1);
    if (rc == 0)
        rc = uv_udp_recv_start(&d->u4, on_alloc, on_recv);
    if (rc != 0) {
        snprintf(err, cap, "discovery: udp 0.0.0.0:%u: %s", port, uv_strerror(rc));
        return -1;
    }
    dlog(d, D_LOG_INFO, "discovery: IPv4 broadcast beacons on port %u (fallback)", port);
    return 0;
}

int zhtp_rt_disc_open(zhtp_rt_disc **out, const zhtp_rt_disc_config *cfg, char *err, size_t cap)
{
    *out = NULL;
    zhtp_rt_disc *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(err, cap, "discovery: out of memory");
        return -1;
    }
    d->cfg = *cfg;
    memcpy(d->self, cfg->self_id, ZHTP_NODE_ID_LEN);
    snprintf(d->ifaces, sizeof d->ifaces, "%s", cfg->interfaces ? cfg->interfaces : "");
    d->cfg.interfaces = d->ifaces;
    *out = d; /* handles opened from here on are closed by the runtime's walk */
    /* Every configured interface must exist: a typo would otherwise silently disable it. */
    for (const char *p = d->ifaces; *p;) {
        size_t l = strcspn(p, ",");
        char name[IF_NAMESIZE];
        if (l == 0 || l >= sizeof name) {
            snprintf(err, cap, "discovery_interfaces: bad name in '%s'", d->ifaces);
            return -1;
        }
        memcpy(name, p, l);
        name[l] = '\0';
        if (if_nametoindex(name) == 0) {
            snprintf(err, cap, "discovery_interfaces: no interface '%s'", name);
            return -1;
        }
        p += l;
        if (*p == ',')
            p++;
    }
    uint16_t port = cfg->disc_port ? cfg->disc_port : ZHTP_DISC_PORT;
    if (cfg->port6 != 0 && open_v6(d, port, err, cap) != 0)
        return -1;
    if (cfg->port4 != 0 && open_v4(d, port, err, cap) != 0)
        return -1;
    uv_timer_init(cfg->loop, &d->timer);
    d->timer.data = d;
    d->timer_on = true;
    uint32_t iv = cfg->interval_ms ? cfg->interval_ms : ZHTP_DISC_INTERVAL_DEF;
    uv_timer_start(&d->timer, on_tick, 100, iv);
    return 0;
}

void zhtp_rt_disc_stop(zhtp_rt_disc *d)
{
    if (d != NULL && d->timer_on)
        uv_timer_stop(&d->timer);
}

void zhtp_rt_disc_free(zhtp_rt_disc *d)
{
    free(d);
}

void zhtp_rt_disc_get_stats(const zhtp_rt_disc *d, zhtp_rt_disc_stats *st)
{
    if (d == NULL)
        memset(st, 0, sizeof *st);
    else
        *st = d->st;
}
