/* zhtp runtime: the real-socket driver of one node core (include/zhtp/node.h) on libuv.
 *
 * What it owns: the event loop, one UDP socket per listen address (each one node link), the
 * static peers and the senders heard recently on each socket (a link's "broadcast" fans out to
 * them), one timer re-armed at zhtp_node_next_deadline, the status/metrics HTTP responder,
 * signals, logging to stderr, and the identity file in the data directory.
 *
 * What it must never do: make protocol decisions. Everything the node decides (who is a
 * neighbour, what to send, when) comes from the core; this layer only moves bytes and time.
 *
 * Not in libzhtp: it depends on libuv and stdio, which the core must not. */
#ifndef ZHTP_RUNTIME_H
#define ZHTP_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_RT_MAX_LISTEN 16
#define ZHTP_RT_MAX_PEERS  64
#define ZHTP_RT_ADDR_STR   64

enum { ZHTP_RT_LOG_ERROR = 0, ZHTP_RT_LOG_WARN, ZHTP_RT_LOG_INFO, ZHTP_RT_LOG_DEBUG };

typedef struct zhtp_rt_options {
    char data_dir[512];
    char passphrase_file[512];
    bool dev_no_passphrase; /* identity key file under an empty passphrase, cheapest KDF */
    char listen[ZHTP_RT_MAX_LISTEN][ZHTP_RT_ADDR_STR];
    size_t n_listen;
    char peer[ZHTP_RT_MAX_PEERS][ZHTP_RT_ADDR_STR];
    size_t n_peer;
    size_t n_peer_config;        /* peer[0..n_peer_config) came from the config file, the rest from
                                  * flags: SIGHUP replaces the first part and keeps the second */
    char http[ZHTP_RT_ADDR_STR]; /* "" : no HTTP responder */
    int log_level;
    char config[512];          /* the file the options came from ("" : none); SIGHUP re-reads it */
    char control[512];         /* control socket path ("" : DATA_DIR/control.sock) */
    bool no_control;           /* no control socket at all */
    uint64_t content_max;      /* largest put/get in bytes; 0: 256 MiB (xfer.h) */
    uint64_t store_quota;      /* LMDB store quota in bytes; 0: the store's default (1 GiB) */
    uint64_t store_quota_peer; /* share of one remote peer's STOREs; 0: store_quota / 4 */
    /* LAN discovery (discovery.h): on unless no_discovery; only listen sockets on a wildcard
     * address are advertised. Interfaces: comma-separated names, "" = every up non-loopback. */
    bool no_discovery;
    char discovery_interfaces[256];
    uint32_t discovery_interval_ms; /* 0: 3000 */
    /* TUN interface (docs/tun.md): none unless a name is given; no_tun overrides a name from
     * the config file. tun_mesh_mtu 0: the same as tun_mtu. */
    char tun[16];
    bool no_tun;
    uint32_t tun_mtu;      /* interface MTU, 1280..65535; default ZHTP_RT_TUN_MTU_DEFAULT */
    uint32_t tun_mesh_mtu; /* largest packet sent into the mesh; above: Packet Too Big */
    bool tun_offload;      /* TUN segmentation offload (TSO in, GSO out); default true */
    uint32_t udp_mtu;      /* largest datagram on the UDP links; 0: the UDP profile's (1,280) */
} zhtp_rt_options;

/* Defaults: log level info, nothing else set. */
void zhtp_rt_options_init(zhtp_rt_options *o);
/* Applies one key=value (the INI keys and the long flags share names: data_dir/--data-dir).
 * Returns 0, or -1 with a message in err (unknown key, bad value, too many). */
int zhtp_rt_options_set(zhtp_rt_options *o, const char *key, const char *val, char *err,
                        size_t err_cap);
/* Reads an INI file ("key = value", '#' or ';' comments, [sections] ignored) into o.
 * Returns 0, or -1 with "FILE:LINE: message" in err. */
int zhtp_rt_options_load(zhtp_rt_options *o, const char *path, char *err, size_t err_cap);
/* "ADDR:PORT", "[V6ADDR]:PORT" -> sockaddr_storage. Returns 0 or -1. */
struct sockaddr_storage;
int zhtp_rt_parse_addr(const char *s, struct sockaddr_storage *out);
int zhtp_rt_parse_level(const char *s);

/* Runs the daemon until SIGINT/SIGTERM. Returns a process exit code: 0 on clean shutdown,
 * 1 on a start-up failure (message already logged). */
int zhtp_rt_run(const zhtp_rt_options *o);

#ifdef __cplusplus
}
#endif
#endif
