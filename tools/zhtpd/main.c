/* zhtpd: the zhtp node daemon. Parses options, then hands over to the runtime (src/runtime). */
#include <stdio.h>
#include <string.h>

#include "runtime.h"

static void usage(FILE *f)
{
    fputs("usage: zhtpd [options]\n"
          "  --data-dir DIR          state directory; identity.key is created there if absent\n"
          "  --passphrase-file FILE  passphrase of identity.key (first line)\n"
          "  --dev-no-passphrase     tests and demos only: identity.key under an empty\n"
          "                          passphrase (no protection at rest)\n"
          "  --listen ADDR:PORT      UDP address to listen on, IPv4 or [IPv6]; repeatable\n"
          "  --peer ADDR:PORT        static peer; repeatable\n"
          "  --http ADDR:PORT        HTTP status: /status (JSON), /metrics (Prometheus),\n"
          "                          /send?to=ID&msg=TEXT[&coords=P.P.P]\n"
          "  --control PATH          control socket (Unix, mode 0660) for `zhtp status`,\n"
          "                          `zhtp admin ...`; default DATA_DIR/control.sock\n"
          "  --no-control            no control socket\n"
          "  --content-max N         largest zhtp put/get through this daemon, bytes\n"
          "                          (K, M, G suffixes; default 256M)\n"
          "  --store-quota N         quota of the LMDB store DATA_DIR/store (default 1G)\n"
          "  --store-quota-peer N    share one remote peer's STOREs may use (default quota/4)\n"
          "  --discovery on|off      LAN discovery beacons (default on; only listen sockets\n"
          "                          on 0.0.0.0 or [::] are advertised)\n"
          "  --discovery-interfaces LIST  comma-separated interfaces (default: all up,\n"
          "                          non-loopback)\n"
          "  --discovery-interval-ms N    beacon period (default 3000)\n"
          "  --udp-mtu N             largest datagram on the UDP links, 1280..65507 (default\n"
          "                          0: 1280); 1472 on Ethernet, more uses IP fragmentation\n"
          "  --tun NAME              TUN interface NAME with the node's IPv6 address\n"
          "                          fd5a:<node id>/16 (needs root or CAP_NET_ADMIN);\n"
          "                          default: no TUN\n"
          "  --no-tun                no TUN, even if the config file names one\n"
          "  --tun-mtu N             TUN interface MTU, 1280..65535 (default 16384)\n"
          "  --tun-mesh-mtu N        largest IPv6 packet sent into the mesh; larger ones get\n"
          "                          ICMPv6 Packet Too Big (default 0: the TUN MTU)\n"
          "  --no-tun-offload        no TUN segmentation offload: one read/write per MTU-sized\n"
          "                          packet instead of TCP super-packets of up to 64 KiB\n"
          "                          (config: tun_offload = false)\n"
          "  --log-level LEVEL       error, warn, info (default) or debug\n"
          "  --config FILE           INI file with the same keys (data_dir = ...); flags given\n"
          "                          on the command line are applied after it\n"
          "  --help                  this text\n"
          "Signals: SIGINT/SIGTERM stop, SIGHUP re-reads log_level and peers from --config.\n"
          "Exit status: 0 clean stop, 1 start-up failure, 2 bad usage.\n",
          f);
}

int main(int argc, char **argv)
{
    zhtp_rt_options o;
    char err[600];
    zhtp_rt_options_init(&o);
    /* The config file first, so that flags override it wherever they appear. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "zhtpd: --config needs a value\n");
                return 2;
            }
            snprintf(o.config, sizeof o.config, "%s", argv[i + 1]);
            if (zhtp_rt_options_load(&o, argv[i + 1], err, sizeof err) != 0) {
                fprintf(stderr, "zhtpd: %s\n", err);
                return 2;
            }
            o.n_peer_config = o.n_peer;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "zhtpd: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        if (strcmp(a, "--dev-no-passphrase") == 0) {
            o.dev_no_passphrase = true;
            continue;
        }
        if (strcmp(a, "--no-control") == 0) {
            o.no_control = true;
            continue;
        }
        if (strcmp(a, "--no-tun") == 0) {
            o.no_tun = true;
            continue;
        }
        if (strcmp(a, "--no-tun-offload") == 0) {
            o.tun_offload = false;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "zhtpd: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0)
            continue;
        char key[64];
        size_t n = strlen(a + 2);
        if (n >= sizeof key) {
            fprintf(stderr, "zhtpd: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        for (size_t k = 0; k <= n; k++)
            key[k] = a[2 + k] == '-' ? '_' : a[2 + k];
        if (strcmp(key, "dev_no_passphrase") == 0 || strcmp(key, "no_control") == 0 ||
            strcmp(key, "no_tun") == 0 || strcmp(key, "no_tun_offload") == 0 ||
            zhtp_rt_options_set(&o, key, v, err, sizeof err) != 0) {
            fprintf(stderr, "zhtpd: %s: %s (see --help)\n", a, err);
            return 2;
        }
    }
    if (o.data_dir[0] == '\0') {
        fprintf(stderr, "zhtpd: --data-dir is required (see --help)\n");
        return 2;
    }
    if (o.n_listen == 0) {
        fprintf(stderr, "zhtpd: at least one --listen ADDR:PORT is required (see --help)\n");
        return 2;
    }
    return zhtp_rt_run(&o);
}
