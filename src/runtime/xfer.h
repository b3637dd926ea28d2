/* zhtpd's DHT services: the DHT's LMDB store in the data directory, and the long control
 * operations put, get and ping (docs/security.md "Streamed operations", docs/cli.md).
 *
 * What it owns: the store handle behind the node's DHT (DATA_DIR/store, include/zhtp/
 * dht_store.h), the table of operations in flight (each tied to one deferred control
 * connection by its ticket), their completion lines, and the DHT operation counters and
 * latency histograms shown on /metrics.
 *
 * What it must never do: make protocol decisions. Content is chunked, verified and located by
 * the DHT (zhtp_dht_put_content / get_content); a ping is one reliable DATA message whose
 * end-to-end acknowledgement the node reports. This file only starts them and reports back. */
#ifndef ZHTP_RT_XFER_H
#define ZHTP_RT_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "zhtp/dht.h"
#include "zhtp/node.h"
#include "zhtp/security.h"

#define ZHTP_RT_XFER_MAX          16                     /* operations in flight */
#define ZHTP_RT_CONTENT_MAX_DEF   (UINT64_C(256) << 20)  /* largest put/get: 256 MiB */
#define ZHTP_RT_PING_TIMEOUT      (5 * ZHTP_NS_PER_SEC)  /* no acknowledgement: reported lost */
#define ZHTP_RT_PROGRESS_INTERVAL (250 * ZHTP_NS_PER_MS) /* progress lines of put/get */
/* First bytes of a ping's DATA body, so the receiving daemon can tell pings from messages. */
#define ZHTP_RT_PING_MAGIC "zhtp-ping"

typedef struct zhtp_rt_xfer zhtp_rt_xfer;

typedef struct zhtp_rt_xfer_config {
    const char *data_dir;      /* the store goes to DATA_DIR/store */
    uint64_t content_max;      /* 0: ZHTP_RT_CONTENT_MAX_DEF */
    uint64_t quota_bytes;      /* store quota; 0: the store's default */
    uint64_t quota_peer_bytes; /* what STOREs from one remote peer may use; 0: a quarter */
    zhtp_rng_fn rng;           /* for the DHT */
    zhtp_time (*now)(void *user_data);
    void (*kick)(void *user_data); /* drain the node's datagrams and re-arm its timer */
    void (*log)(void *user_data, int level, const char *msg);
    void *user_data;
} zhtp_rt_xfer_config;

/* Opens the store and fills |dht| with a DHT configuration backed by it (the node copies it;
 * the store stays open until zhtp_rt_xfer_free). Returns 0, or -1 with a message in err. */
int zhtp_rt_xfer_new(zhtp_rt_xfer **out, const zhtp_rt_xfer_config *cfg, zhtp_dht_config *dht,
                     char *err, size_t err_cap);
/* Once the node exists (its DHT may be NULL: put/get then fail with ZHTP_ERR_UNSUPPORTED). */
void zhtp_rt_xfer_attach(zhtp_rt_xfer *x, zhtp_node *node, zhtp_dht *dht, zhtp_rt_ctl *ctl);
void zhtp_rt_xfer_free(zhtp_rt_xfer *x); /* NULL is a no-op */

/* The underlying LMDB store (peer cache), borrowed; NULL before zhtp_rt_xfer_new. */
struct zhtp_store *zhtp_rt_xfer_store(zhtp_rt_xfer *x);

/* Control handlers (zhtp_ctl_handler_fn; user_data = the zhtp_rt_xfer). They start the
 * operation but do not drive the node: a completion found by that drive would be written
 * before the dispatcher's response line. The control socket's |after| callback drives it. */
zhtp_ssize zhtp_rt_xfer_ctl_put(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                char *out, size_t cap);
zhtp_ssize zhtp_rt_xfer_ctl_get(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                char *out, size_t cap);
zhtp_ssize zhtp_rt_xfer_ctl_ping(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                                 char *out, size_t cap);
/* The control connection of |ticket| went away: its operation reports to nobody. */
void zhtp_rt_xfer_gone(zhtp_rt_xfer *x, uint64_t ticket);

/* After every node call: takes the node event if it concerns a ping (true: consumed). */
bool zhtp_rt_xfer_on_node_event(zhtp_rt_xfer *x, const zhtp_node_event *ev);
/* After every node call: drains the DHT's completion events. */
void zhtp_rt_xfer_poll(zhtp_rt_xfer *x);
/* The earliest time zhtp_rt_xfer_tick wants to run (progress lines, ping timeouts), or
 * ZHTP_TIME_NEVER. */
zhtp_time zhtp_rt_xfer_next_deadline(const zhtp_rt_xfer *x);
void zhtp_rt_xfer_tick(zhtp_rt_xfer *x, zhtp_time now);

/* Appends the Prometheus text of the DHT counters and latency histograms to out (NUL-
 * terminated); returns the length written, or 0 when cap is too small. */
size_t zhtp_rt_xfer_metrics(const zhtp_rt_xfer *x, char *out, size_t cap);

#endif
