/* zhtp-sim: thin command-line front end of the simulator engine (src/sim/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
        "  --help              this text\n");
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

int main(int argc, char **argv)
{
    zsim_config c = {
        .topology = ZSIM_LINE, .n = 10, .seed = 1, .media = ZHTP_MEDIUM_UDP, .messages = 100};
    bool have_topo = false, timing = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            continue;
        } else if (!strcmp(a, "--unreliable")) {
            c.unreliable = true;
            continue;
        } else if (!strcmp(a, "--plaintext")) {
            c.plaintext = true;
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
        if (!strcmp(a, "--topology")) {
            bad = parse_topology(v, &c);
            have_topo = true;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            c.seed = strtoull(v, &end, 0);
            bad = *end != 0;
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
            fprintf(stderr, "zhtp-sim: bad value for %s: %s\n", a, v);
            return 2;
        }
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
