/* zhtp-sim: thin command-line front end of the simulator engines (src/sim/): node cores over
 * virtual links (sim.h), or with --dht, put/get workloads on a network of DHT instances
 * (dht_net_workload.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dht_net_workload.h"
#include "sim.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: zhtp-sim --topology line:N | grid:WxH | random:N:DEGREE [options]\n"
        "\n"
        "Runs N real zhtp node cores in one process over virtual links with a virtual\n"
        "clock, sends application messages between random pairs, prints a JSON summary.\n"
        "The same arguments give byte-identical output.\n"
        "\n"
        "  --seed S            RNG seed (default 1)\n"
        "  --loss P            frame loss probability on every link, 0..1 (default 0)\n"
        "  --media M           udp | ble | wifi-direct | lora | satellite | mixed (default udp)\n"
        "  --messages M        application messages (default 100)\n"
        "  --size B            bytes per message (default 64)\n"
        "  --unreliable        send without end-to-end acknowledgement/retransmission\n"
        "  --warmup T          seconds of virtual time before the first message (default 15)\n"
        "  --spread T          messages are spread over T seconds (default 10)\n"
        "  --max-time T        hard stop, seconds of virtual time\n"
        "  --cut-link-at T     cut one link of the tree root at T seconds\n"
        "  --kill-node-at T    kill one seeded-random node at T seconds\n"
        "  --json              JSON summary on stdout (the default and only format)\n"
        "  --timing            wall-clock speed (events/s) on stderr\n"
        "  --help              this text\n"
        "\n"
        "usage: zhtp-sim --dht [--nodes N] [--puts N] [--gets N] [options]\n"
        "\n"
        "Runs N real DHT instances (core/dht) on a virtual network (latency 5 ms + 40 ms x\n"
        "distance in a unit square + 0-2 ms jitter), bootstraps them, puts random chunks\n"
        "(1..256 bytes) from random honest nodes, then gets each key from another random\n"
        "honest node and checks every byte. Prints lookup statistics; the same arguments give\n"
        "byte-identical output.\n"
        "\n"
        "  --nodes N           DHT nodes (default 1000)\n"
        "  --puts N            chunks put (default 1000)\n"
        "  --gets N            gets; key i %% puts (default: = puts)\n"
        "  --adversary A       drop:P | collude:P | forge:P, P = fraction of nodes in [0, 1):\n"
        "                      droppers answer nothing; colluders answer every lookup with\n"
        "                      other colluders and never a value; forgers answer chunk gets\n"
        "                      with bytes that do not hash to the key (default: none)\n"
        "  --adversary-late    adversaries behave until bootstrap is over (default: hostile\n"
        "                      from the first message, so they also poison routing tables)\n"
        "  --disjoint D        disjoint lookup paths, 1..8 (S/Kademlia; default 1)\n"
        "  --k K               bucket size and replication, 1..32 (default 20)\n"
        "  --alpha A           parallel requests per path, 1..64 (default 3)\n"
        "  --seed S            RNG seed (default 1)\n"
        "  --min-success F     exit 3 when fewer than F of the gets verify (default 1)\n"
        "  --json              JSON on stdout (default: a human-readable summary)\n"
        "  --timing            wall-clock time on stderr (bootstrap, puts and gets)\n"
        "\n"
        "Exit status: 0 ok; 1 the network could not be built; 2 bad arguments; 3 (--dht) the\n"
        "run completed but lookup_success < --min-success or a get returned wrong bytes.\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return (int)(end - s);
}

static int parse_secs(const char *s, zhtp_time *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0 || v > 1e9)
        return -1;
    *out = (zhtp_time)(v * 1e9);
    return 0;
}

static int parse_topology(const char *s, zsim_config *c)
{
    int k;
    if (!strncmp(s, "line:", 5)) {
        c->topology = ZSIM_LINE;
        return (k = parse_u32(s + 5, &c->n)) > 0 && !s[5 + k] ? 0 : -1;
    }
    if (!strncmp(s, "grid:", 5)) {
        c->topology = ZSIM_GRID;
        const char *p = s + 5;
        if ((k = parse_u32(p, &c->w)) <= 0 || p[k] != 'x')
            return -1;
        p += k + 1;
        return (k = parse_u32(p, &c->h)) > 0 && !p[k] ? 0 : -1;
    }
    if (!strncmp(s, "random:", 7)) {
        c->topology = ZSIM_RANDOM;
        const char *p = s + 7;
        if ((k = parse_u32(p, &c->n)) <= 0 || p[k] != ':')
            return -1;
        p += k + 1;
        return (k = parse_u32(p, &c->degree)) > 0 && !p[k] ? 0 : -1;
    }
    return -1;
}

static int parse_media(const char *s)
{
    static const char *names[] = {"udp", "ble", "wifi-direct", "lora", "satellite"};
    if (!strcmp(s, "mixed"))
        return ZSIM_MEDIA_MIXED;
    if (!strcmp(s, "wifi"))
        return ZHTP_MEDIUM_WIFI_DIRECT;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(s, names[i]))
            return i;
    return -2;
}

static int parse_size(const char *s, size_t *out, size_t min, size_t max)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* drop:P | collude:P | forge:P with P a fraction in [0, 1). */
static int parse_adversary(const char *s, dn_workload *w)
{
    static const struct {
        const char *name;
        int behaviour;
    } kinds[] = {{"drop", DN_DROPPER}, {"collude", DN_COLLUDER}, {"forge", DN_FORGER}};
    const char *colon = strchr(s, ':');
    if (!colon)
        return -1;
    w->adversary = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == (size_t)(colon - s) &&
            !strncmp(s, kinds[i].name, strlen(kinds[i].name)))
            w->adversary = kinds[i].behaviour;
    char *end;
    double p = strtod(colon + 1, &end);
    if (w->adversary < 0 || end == colon + 1 || *end || !(p >= 0.0 && p < 1.0))
        return -1;
    w->adversary_fraction = p;
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

typedef struct dht_watch {
    bool show;          /* progress lines on stderr */
    struct timespec t0; /* start of the run */
    double boot_s;      /* wall time until the put phase began; < 0: not yet */
} dht_watch;

static void dht_progress(void *ud, const char *phase, size_t done, size_t total)
{
    dht_watch *dw = ud;
    if (dw->boot_s < 0 && strcmp(phase, "bootstrap") != 0)
        dw->boot_s = seconds_since(&dw->t0);
    if (dw->show) {
        fprintf(stderr, "\rzhtp-sim: %-9s %zu/%zu   ", phase, done, total);
        fflush(stderr);
    }
}

static bool dht_only_option(const char *a)
{
    static const char *const opts[] = {"--nodes",    "--puts", "--gets",  "--adversary",
                                       "--disjoint", "--k",    "--alpha", "--min-success"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strcmp(a, opts[i]))
            return true;
    return false;
}

static int run_dht(dn_workload *w, bool json, bool timing, double min_success)
{
    /* Progress only where someone watches, and only for runs that take a while. */
    dht_watch dw = {.show = isatty(STDERR_FILENO) != 0 &&
                            (w->nodes >= 1000 || w->puts + w->gets >= 20000),
                    .boot_s = -1};
    w->progress = dht_progress;
    w->progress_ud = &dw;
    clock_gettime(CLOCK_MONOTONIC, &dw.t0);
    dn_workload_result r;
    int rc = dn_workload_run(w, &r);
    if (dw.show)
        fprintf(stderr, "\r%40s\r", "");
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp-sim: cannot run the DHT workload (%s)\n",
                rc == ZHTP_ERR_INVAL         ? "invalid parameters"
                : rc == ZHTP_ERR_DHT_TIMEOUT ? "fewer than 2 honest nodes joined the network"
                                             : "out of memory");
        return rc == ZHTP_ERR_INVAL ? 2 : 1;
    }
    if (json)
        dn_workload_json(w, &r, stdout);
    else
        dn_workload_text(w, &r, stdout);
    if (timing) {
        double all = seconds_since(&dw.t0), boot = dw.boot_s < 0 ? all : dw.boot_s;
        fprintf(stderr, "zhtp-sim: %.2f s wall (bootstrap %.2f s, puts and gets %.2f s)\n", all,
                boot, all - boot);
    }
    if (r.wrong_bytes || (r.gets && r.lookup_success < min_success)) {
        fprintf(stderr, "zhtp-sim: %zu/%zu gets verified (%.4f < %.4f required)%s\n", r.get_ok,
                r.gets, r.lookup_success, min_success,
                r.wrong_bytes ? ", and some returned wrong bytes" : "");
        return 3;
    }
    return 0;
}

int main(int argc, char **argv)
{
    zsim_config c = {
        .topology = ZSIM_LINE, .n = 10, .seed = 1, .media = ZHTP_MEDIUM_UDP, .messages = 100};
    bool have_topo = false, timing = false;
    /* --dht mode; sim_only/dht_only name an option given that belongs to the other mode */
    dn_workload w = {.nodes = 1000, .seed = 1, .puts = 1000};
    bool dht = false, json = false, have_gets = false;
    double min_success = 1.0;
    const char *sim_only = NULL, *dht_only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
            continue;
        } else if (!strcmp(a, "--dht")) {
            dht = true;
            continue;
        } else if (!strcmp(a, "--adversary-late")) {
            w.adversary_late = true;
            dht_only = a;
            continue;
        } else if (!strcmp(a, "--unreliable")) {
            c.unreliable = true;
            sim_only = a;
            continue;
        } else if (!strcmp(a, "--plaintext")) {
            c.plaintext = true;
            sim_only = a;
            continue;
        } else if (!strcmp(a, "--timing")) {
            timing = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "zhtp-sim: %s needs a value (try --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            c.seed = strtoull(v, &end, 0);
            w.seed = c.seed;
            bad = *end != 0 || end == v || errno != 0 || *v == '-';
        } else if (!strcmp(a, "--nodes")) {
            bad = parse_size(v, &w.nodes, 2, 1u << 24);
            dht_only = a;
        } else if (!strcmp(a, "--puts")) {
            bad = parse_size(v, &w.puts, 0, 1u << 26);
            dht_only = a;
        } else if (!strcmp(a, "--gets")) {
            bad = parse_size(v, &w.gets, 0, 1u << 26);
            have_gets = true;
            dht_only = a;
        } else if (!strcmp(a, "--adversary")) {
            bad = parse_adversary(v, &w);
            dht_only = a;
        } else if (!strcmp(a, "--disjoint")) {
            size_t d;
            bad = parse_size(v, &d, 1, ZHTP_DHT_PATHS_MAX);
            w.paths = (uint32_t)d;
            dht_only = a;
        } else if (!strcmp(a, "--k")) {
            size_t k;
            bad = parse_size(v, &k, 1, ZHTP_DHT_K_MAX);
            w.k = (uint32_t)k;
            dht_only = a;
        } else if (!strcmp(a, "--alpha")) {
            size_t al;
            bad = parse_size(v, &al, 1, 64);
            w.alpha = (uint32_t)al;
            dht_only = a;
        } else if (!strcmp(a, "--min-success")) {
            char *end;
            min_success = strtod(v, &end);
            bad = end == v || *end || !(min_success >= 0.0 && min_success <= 1.0);
            dht_only = a;
        } else if (!strcmp(a, "--topology")) {
            bad = parse_topology(v, &c);
            have_topo = true;
        } else if (!strcmp(a, "--loss")) {
            char *end;
            double p = strtod(v, &end);
            bad = *end || p < 0 || p > 1;
            c.loss_ppm = (uint32_t)(p * 1e6 + 0.5);
        } else if (!strcmp(a, "--media")) {
            c.media = parse_media(v);
            bad = c.media == -2;
        } else if (!strcmp(a, "--messages")) {
            bad = parse_u32(v, &c.messages) <= 0;
        } else if (!strcmp(a, "--size")) {
            bad = parse_u32(v, &c.msg_size) <= 0 || c.msg_size > ZHTP_NODE_MAX_MESSAGE;
        } else if (!strcmp(a, "--warmup")) {
            bad = parse_secs(v, &c.warmup);
        } else if (!strcmp(a, "--spread")) {
            bad = parse_secs(v, &c.spread);
        } else if (!strcmp(a, "--max-time")) {
            bad = parse_secs(v, &c.max_time);
        } else if (!strcmp(a, "--cut-link-at")) {
            bad = parse_secs(v, &c.cut_at) || !c.cut_at;
        } else if (!strcmp(a, "--kill-node-at")) {
            bad = parse_secs(v, &c.kill_at) || !c.kill_at;
        } else {
            fprintf(stderr, "zhtp-sim: unknown option %s (try --help)\n", a);
            return 2;
        }
        if (bad) {
            if (!strcmp(a, "--adversary"))
                fprintf(stderr,
                        "zhtp-sim: bad value for --adversary: %s (want drop:P, collude:P or "
                        "forge:P with 0 <= P < 1)\n",
                        v);
            else
                fprintf(stderr, "zhtp-sim: bad value for %s: %s\n", a, v);
            return 2;
        }
        if (strcmp(a, "--seed") && !dht_only_option(a))
            sim_only = a;
    }
    if (dht) {
        if (sim_only) {
            fprintf(stderr, "zhtp-sim: %s is not a --dht option (try --help)\n", sim_only);
            return 2;
        }
        if (!have_gets)
            w.gets = w.puts;
        if (w.gets && !w.puts) {
            fprintf(stderr, "zhtp-sim: --gets needs at least one put\n");
            return 2;
        }
        size_t adversaries =
            w.adversary == DN_HONEST ? 0 : (size_t)(w.adversary_fraction * (double)w.nodes + 0.5);
        if (w.nodes - adversaries < 2) {
            fprintf(stderr, "zhtp-sim: --adversary leaves fewer than 2 honest nodes of %zu\n",
                    w.nodes);
            return 2;
        }
        return run_dht(&w, json, timing, min_success);
    }
    if (dht_only) {
        fprintf(stderr, "zhtp-sim: %s needs --dht (try --help)\n", dht_only);
        return 2;
    }
    if (!have_topo)
        fprintf(stderr, "zhtp-sim: no --topology given, using line:10\n");
    /* Progress lines only where someone watches, and only for runs that take a while. */
    uint32_t nodes = c.topology == ZSIM_GRID ? c.w * c.h : c.n;
    c.progress = isatty(STDERR_FILENO) != 0 && nodes >= 1000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    zsim *s;
    int rc = zsim_new(&s, &c);
    if (rc != 0) {
        fprintf(stderr, "zhtp-sim: cannot build the network (%s)\n",
                rc == ZHTP_ERR_INVAL ? "invalid topology or media" : "out of memory");
        return 1;
    }
    struct timespec tb;
    clock_gettime(CLOCK_MONOTONIC, &tb);
    zsim_run(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    zsim_result r;
    zsim_result_get(s, &r);
    zsim_result_json(&r, &c, stdout);
    if (timing) {
        double build = (double)(tb.tv_sec - t0.tv_sec) + (double)(tb.tv_nsec - t0.tv_nsec) / 1e9;
        double run = (double)(t1.tv_sec - tb.tv_sec) + (double)(t1.tv_nsec - tb.tv_nsec) / 1e9;
        fprintf(stderr, "zhtp-sim: build %.2f s, run %.2f s, %.0f events/s\n", build, run,
                run > 0 ? (double)r.events / run : 0.0);
    }
    zsim_free(s);
    return 0;
}
