/* LAN discovery for zhtpd (docs/zhtpd.conf.md "LAN discovery").
 *
 * What it owns: a beacon sent every interval on each enabled interface, to the IPv6
 * link-local multicast group ff02::7a68:7470 ("zhtp") on UDP port 7474 when the node listens
 * on IPv6, else (the fallback) to the interface's IPv4 broadcast address on the same port; the
 * two receiving sockets; and the beacon's byte format:
 *
 *   "ZHDB" | version u8 (1) | flags u8 (0) | port u16 (big endian) | node id (32)   = 40 bytes
 *
 * port is the node's UDP listen port of the family the beacon travels on. A received beacon
 * makes (its source address, that port) a candidate peer for the runtime, which treats it as a
 * sender it has heard: the node's discovery solicits and keepalive beacons go to it, and it
 * becomes a neighbour only through the ordinary PEER_DISCOVERY and authenticated handshake.
 * The node id in a beacon is unauthenticated: it is used only to ignore our own beacons.
 *
 * What it must never do: decide who is a neighbour, or trust anything in a beacon. */
#ifndef ZHTP_RT_DISCOVERY_H
#define ZHTP_RT_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "zhtp/err.h"
#include "zhtp/types.h"

#define ZHTP_DISC_MAGIC        "ZHDB"
#define ZHTP_DISC_VERSION      1
#define ZHTP_DISC_BEACON_LEN   40
#define ZHTP_DISC_PORT         7474
#define ZHTP_DISC_GROUP6       "ff02::7a68:7470"
#define ZHTP_DISC_INTERVAL_DEF 3000 /* ms between beacons on each interface */
#define ZHTP_DISC_IFACES_MAX   32

typedef struct zhtp_disc_beacon {
    uint16_t port;
    uint8_t id[ZHTP_NODE_ID_LEN];
} zhtp_disc_beacon;

/* Writes the 40-byte beacon. Returns ZHTP_DISC_BEACON_LEN or ZHTP_ERR_NOBUF. */
zhtp_ssize zhtp_disc_beacon_encode(uint8_t *out, size_t cap, const zhtp_disc_beacon *b);
/* Parses an untrusted datagram. ZHTP_OK, ZHTP_ERR_WIRE_TRUNCATED / ZHTP_ERR_WIRE_LENGTH (not
 * exactly 40 bytes), ZHTP_ERR_WIRE_MAGIC, ZHTP_ERR_WIRE_VERSION, ZHTP_ERR_WIRE_RESERVED (flags
 * not 0) or ZHTP_ERR_WIRE_FIELD (port 0). On error *b is zeroed. */
ZHTP_NODISCARD int zhtp_disc_beacon_decode(zhtp_disc_beacon *b, const uint8_t *buf, size_t len);

typedef struct zhtp_rt_disc zhtp_rt_disc;

/* A beacon arrived: |peer| is its source address with the advertised port (an IPv6 link-local
 * source keeps its scope id). Valid during the call. */
typedef void (*zhtp_rt_disc_found_fn)(void *user_data, const struct sockaddr *peer);

typedef struct zhtp_rt_disc_config {
    uv_loop_t *loop;
    const uint8_t *self_id; /* ZHTP_NODE_ID_LEN bytes, borrowed for the handle's life */
    uint16_t port6;         /* the node's IPv6 listen port, 0: none (then IPv4 broadcast) */
    uint16_t port4;         /* the node's IPv4 listen port, 0: none */
    const char *interfaces; /* comma-separated names; "" or NULL: every up, non-loopback one */
    uint16_t disc_port;     /* 0: ZHTP_DISC_PORT */
    uint32_t interval_ms;   /* 0: ZHTP_DISC_INTERVAL_DEF */
    zhtp_rt_disc_found_fn found;
    void (*log)(void *user_data, int level, const char *msg);
    void *user_data;
} zhtp_rt_disc_config;

/* Opens the sockets, joins the group on the interfaces and starts the beacon timer. Returns 0,
 * or -1 with a message in err (a configured interface that does not exist, a port in use). */
int zhtp_rt_disc_open(zhtp_rt_disc **out, const zhtp_rt_disc_config *cfg, char *err, size_t cap);
/* Stops the timer and beacons (the handles are closed by the runtime's close walk). */
void zhtp_rt_disc_stop(zhtp_rt_disc *d);
/* After the loop has run every close callback. NULL is a no-op. */
void zhtp_rt_disc_free(zhtp_rt_disc *d);

/* Counters for /metrics. */
typedef struct zhtp_rt_disc_stats {
    uint64_t sent, send_errors, received, bad, own;
} zhtp_rt_disc_stats;
void zhtp_rt_disc_get_stats(const zhtp_rt_disc *d, zhtp_rt_disc_stats *st);

#endif
