/* zhtp ping / put / get: the commands that move data through the daemon (docs/cli.md).
 *
 * Each signs one request (include/zhtp/security.h) and keeps the control connection open for
 * the streamed part (docs/security.md "Streamed operations"): put sends the file's bytes after
 * the daemon accepted the request, get receives them after the daemon's last line, and both
 * read progress lines in between. The daemon verifies content against its id (the DHT's
 * BLAKE3 Merkle manifest); this side writes a file only through a temporary name that is
 * renamed once every announced byte arrived. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmds.h"
#include "zhtp/security.h"
#include "zhtp/util.h"
#include "zhtp/wallet.h"

#define REQ_MAX        (ZHTP_CTL_LINE_MAX + 2)
#define IDLE_TIMEO     60 /* seconds without a byte from the daemon: it is not answering */
#define PROGRESS_MIN   (1u << 20)
#define IO_CHUNK       (1u << 20)
#define PING_RETRY_MAX 20 /* tries while the daemon resolves an IPv6 address (ERR_AGAIN) */

/* ---- a line reader that keeps what follows the line (raw bytes of a get) ---- */

typedef struct conn {
    int fd;
    char *buf; /* ZHTP_CTL_RESPONSE_MAX + 1 */
    size_t len;
} conn;

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
}

/* Reads one line into a JSON object (new reference), or NULL with a message. */
static json_t *read_json(const char *cmd, conn *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl != NULL) {
            *nl = '\0';
            json_error_t je;
            json_t *v = json_loads(c->buf, JSON_PRESERVE_ORDER, &je);
            size_t used = (size_t)(nl + 1 - c->buf);
            memmove(c->buf, nl + 1, c->len - used);
            c->len -= used;
            if (v == NULL || !json_is_object(v)) {
                fprintf(stderr, "zhtp %s: the daemon's answer is not JSON: %s\n", cmd, je.text);
                json_decref(v);
                return NULL;
            }
            return v;
        }
        if (c->len >= ZHTP_CTL_RESPONSE_MAX) {
            fprintf(stderr, "zhtp %s: the daemon sent an over-long line\n", cmd);
            return NULL;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, ZHTP_CTL_RESPONSE_MAX - c->len, 0);
        if (n <= 0) {
            fprintf(stderr, "zhtp %s: the daemon closed the connection or stopped answering%s%s\n",
                    cmd, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            return NULL;
        }
        c->len += (size_t)n;
    }
}

/* Reads up to cap raw bytes (what the line reader holds first). 0: end of stream. */
static ssize_t read_raw(conn *c, uint8_t *out, size_t cap)
{
    if (c->len > 0) {
        size_t n = c->len < cap ? c->len : cap;
        memcpy(out, c->buf, n);
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        return (ssize_t)n;
    }
    return recv(c->fd, out, cap, 0);
}

static int send_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v != NULL ? v : dflt;
}

static json_int_t last_code; /* the code of the last error line, for ping's retry */

/* An error line ({"ok":false,...}) as an exit code, with its reason on stderr. */
static int refused(const char *cmd, const json_t *v)
{
    json_int_t code = json_integer_value(json_object_get(v, "code"));
    last_code = code;
    if (code == ZHTP_ERR_AGAIN)
        return ZHTP_EXIT_FAIL; /* the caller retries; said once it gives up */
    fprintf(stderr, "zhtp %s: %s (%s)\n", cmd, jstr(v, "error", "?"), jstr(v, "reason", ""));
    return code == ZHTP_ERR_DHT_NOT_FOUND ? ZHTP_EXIT_NOTFOUND : ZHTP_EXIT_FAIL;
}

/* Signs op(args), connects, sends it and reads the daemon's first line. On ZHTP_EXIT_OK *first
 * holds that line (ok:true) and c is open. */
static int start_request(const char *cmd, const opts *o, const zhtp_wallet *w, const char *op,
                         const zhtp_ctl_arg *args, size_t n_args, conn *c, json_t **first)
{
    *first = NULL;
    c->fd = -1;
    c->len = 0;
    c->buf = NULL;
    char *line = malloc(REQ_MAX);
    zhtp_ssize len = line ? zhtp_ctl_request_build(line, REQ_MAX, w, op, args, n_args, NULL, 0,
                                                   (int64_t)time(NULL))
                          : ZHTP_ERR_NOMEM;
    if (len < 0) {
        fprintf(stderr, "zhtp %s: cannot build the request: %s\n", cmd, zhtp_strerror((int)len));
        free(line);
        return len == ZHTP_ERR_INVAL ? ZHTP_EXIT_USAGE : ZHTP_EXIT_FAIL;
    }
    int ex = zc_connect(cmd, o, &c->fd);
    if (ex != ZHTP_EXIT_OK) {
        free(line);
        return ex;
    }
    struct timeval tv = {.tv_sec = IDLE_TIMEO};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    c->buf = malloc(ZHTP_CTL_RESPONSE_MAX + 1);
    int rc = c->buf != NULL ? send_all(c->fd, line, (size_t)len) : -1;
    free(line);
    if (rc != 0) {
        fprintf(stderr, "zhtp %s: sending the request: %s\n", cmd, strerror(errno));
        conn_close(c);
        return ZHTP_EXIT_UNREACHABLE;
    }
    json_t *v = read_json(cmd, c);
    if (v == NULL) {
        conn_close(c);
        return ZHTP_EXIT_UNREACHABLE;
    }
    if (!json_is_true(json_object_get(v, "ok"))) {
        ex = refused(cmd, v);
        json_decref(v);
        conn_close(c);
        return ex;
    }
    *first = v;
    return ZHTP_EXIT_OK;
}

/* ---- progress on a terminal ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct progress {
    bool on;
    double t0, last;
} progress;

static void bar(progress *p, const char *label, uint64_t done, uint64_t total, bool force)
{
    if (!p->on)
        return;
    double now = mono_s();
    if (!force && now - p->last < 0.1)
        return;
    p->last = now;
    double el = now - p->t0, mib = (double)done / 1048576.0;
    if (total > 0) {
        int w = 30, fill = (int)((double)w * (double)done / (double)total);
        char b[31];
        for (int i = 0; i < w; i++)
            b[i] = i < fill ? '#' : '.';
        b[w] = '\0';
        fprintf(stderr, "\r%-9s [%s] %5.1f%% %8.1f MiB %7.1f MiB/s ", label, b,
                100.0 * (double)done / (double)total, mib, el > 0 ? mib / el : 0.0);
    } else {
        fprintf(stderr, "\r%-9s %8.1f MiB through the node, %5.1f s               ", label, mib,
                el);
    }
}

static void bar_end(progress *p)
{
    if (p->on)
        fputc('\n', stderr);
    p->on = false;
}

/* Reads lines until the last one ("done"); progress lines update the display. Returns that
 * line (new reference) or NULL (connection lost, message printed). */
static json_t *await_done(const char *cmd, conn *c, progress *p, const char *phase, bool use_tx)
{
    for (;;) {
        json_t *v = read_json(cmd, c);
        if (v == NULL)
            return NULL;
        if (json_is_true(json_object_get(v, "done")))
            return v;
        json_t *pr = json_object_get(v, "progress");
        if (pr != NULL) {
            json_int_t b =
                json_integer_value(json_object_get(pr, use_tx ? "tx_bytes" : "rx_bytes"));
            if (!p->on && !use_tx && b > (json_int_t)PROGRESS_MIN && isatty(STDERR_FILENO)) {
                /* a get's size is unknown until the end: the display starts past 1 MiB */
                p->on = true;
                p->t0 = mono_s();
            }
            bar(p, phase, (uint64_t)(b > 0 ? b : 0), 0, false);
        }
        json_decref(v);
    }
}

/* ---- zhtp put ---- */

static void put_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp put FILE [--json] [options]\n"
            "Stores FILE in the mesh's DHT through the daemon: split into 64 KiB chunks under\n"
            "a BLAKE3 Merkle manifest, each chunk stored at the nodes closest to its key.\n"
            "Prints the content id (64 hex digits) that `zhtp get` takes. A progress bar goes\n"
            "to stderr when it is a terminal and FILE is over 1 MiB. The daemon's bound is its\n"
            "content_max (default 256 MiB). Owner, admins and users.\n%s",
            zc_common_help);
}

int cmd_put(int argc, char **argv)
{
    opts o;
    int pr = zc_parse_opts("put", argc, argv, &o, 1, put_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    if (o.n_pos != 1) {
        put_usage(stderr);
        return ZHTP_EXIT_USAGE;
    }
    if (o.request_out != NULL) {
        fprintf(stderr, "zhtp put: --request-out is not available for put\n");
        return ZHTP_EXIT_USAGE;
    }
    int fd = open(o.pos[0], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "zhtp put: %s: %s\n", o.pos[0], fd < 0 ? strerror(errno) : "not a file");
        if (fd >= 0)
            close(fd);
        return ZHTP_EXIT_FAIL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        fprintf(stderr, "zhtp put: %s is empty: nothing to store\n", o.pos[0]);
        close(fd);
        return ZHTP_EXIT_FAIL;
    }
    zhtp_wallet *w = NULL;
    int ex = zc_load_wallet("put", &o, &w);
    if (ex != ZHTP_EXIT_OK) {
        close(fd);
        return ex;
    }
    zhtp_ctl_arg arg = {.key = "size", .type = ZHTP_CTL_ARG_INT, .i = (int64_t)size};
    conn c;
    json_t *first = NULL, *last = NULL;
    ex = start_request("put", &o, w, "put", &arg, 1, &c, &first);
    zhtp_wallet_free(w);
    if (ex != ZHTP_EXIT_OK) {
        close(fd);
        return ex;
    }
    json_decref(first);
    progress p = {.on = isatty(STDERR_FILENO) && size > PROGRESS_MIN, .t0 = mono_s()};
    uint8_t *chunk = malloc(IO_CHUNK);
    uint64_t sent = 0;
    while (chunk != NULL && sent < size) {
        ssize_t n = read(fd, chunk, IO_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "\nzhtp put: %s: %s\n", o.pos[0],
                    n < 0 ? strerror(errno) : "file shrank while being read");
            break;
        }
        if ((uint64_t)n > size - sent)
            n = (ssize_t)(size - sent); /* the file grew: only the announced bytes go */
        if (send_all(c.fd, chunk, (size_t)n) != 0) {
            fprintf(stderr, "\nzhtp put: sending to the daemon: %s\n", strerror(errno));
            break;
        }
        sent += (uint64_t)n;
        bar(&p, "upload", sent, size, sent == size);
    }
    free(chunk);
    close(fd);
    if (sent != size) {
        bar_end(&p);
        conn_close(&c);
        return ZHTP_EXIT_FAIL;
    }
    if (p.on) {
        fputc('\n', stderr);
        p.t0 = mono_s();
    }
    last = await_done("put", &c, &p, "storing", true);
    bar_end(&p);
    conn_close(&c);
    if (last == NULL)
        return ZHTP_EXIT_UNREACHABLE;
    if (!json_is_true(json_object_get(last, "ok"))) {
        ex = refused("put", last);
        json_decref(last);
        return ex;
    }
    json_t *res = json_object_get(last, "result");
    if (o.json) {
        char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        puts(s ? s : "null");
        free(s);
    } else {
        puts(jstr(res, "id", "?"));
    }
    json_decref(last);
    return ZHTP_EXIT_OK;
}

/* ---- zhtp get ---- */

static void get_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp get ID [-o FILE] [--json] [options]\n"
            "Fetches the content ID (64 hex digits, from `zhtp put`) through the daemon, which\n"
            "verifies every chunk against the Merkle manifest named by ID. Without -o the bytes\n"
            "go to stdout; with -o they go to a temporary file beside FILE that is renamed to\n"
            "FILE only once every byte arrived (FILE is never left partial or corrupt).\n"
            "--json prints the result (id, size, ms) on stdout with -o, on stderr without.\n"
            "Exit 4 when no node holds ID. Owner, admins and users.\n%s",
            zc_common_help);
}

int cmd_get(int argc, char **argv)
{
    char *rest[64];
    int n = 0;
    const char *out = NULL;
    for (int i = 0; i < argc && n < 64; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "zhtp get: -o needs a file name\n");
                return ZHTP_EXIT_USAGE;
            }
            out = argv[++i];
            continue;
        }
        rest[n++] = argv[i];
    }
    opts o;
    int pr = zc_parse_opts("get", n, rest, &o, 1, get_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    uint8_t id[32];
    if (o.n_pos != 1 || strlen(o.pos[0]) != 64 ||
        zhtp_hex_decode(id, sizeof id, o.pos[0], 64) != 32) {
        fprintf(stderr, "zhtp get: expected one content id of 64 hex digits (see --help)\n");
        return ZHTP_EXIT_USAGE;
    }
    if (o.request_out != NULL) {
        fprintf(stderr, "zhtp get: --request-out is not available for get\n");
        return ZHTP_EXIT_USAGE;
    }
    /* The temporary file first: a directory we cannot write fails before any network work. */
    char tmp[4096] = "";
    int ofd = STDOUT_FILENO;
    if (out != NULL) {
        char d[4096], b[4096];
        snprintf(d, sizeof d, "%s", out);
        snprintf(b, sizeof b, "%s", out);
        if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.zhtp-XXXXXX", dirname(d), basename(b)) >=
            sizeof tmp) {
            fprintf(stderr, "zhtp get: %s: name too long\n", out);
            return ZHTP_EXIT_USAGE;
        }
        ofd = mkostemp(tmp, O_CLOEXEC);
        if (ofd < 0) {
            fprintf(stderr, "zhtp get: cannot create a file beside %s: %s\n", out, strerror(errno));
            return ZHTP_EXIT_FAIL;
        }
        mode_t um = umask(0);
        umask(um);
        (void)fchmod(ofd, 0666 & ~um); /* as an ordinary new file, not mkstemp's 0600 */
    }
    zhtp_wallet *w = NULL;
    conn c = {.fd = -1};
    json_t *first = NULL, *last = NULL;
    uint8_t *chunk = NULL;
    int ex = zc_load_wallet("get", &o, &w);
    if (ex != ZHTP_EXIT_OK)
        goto out;
    zhtp_ctl_arg arg = {.key = "id", .type = ZHTP_CTL_ARG_STRING, .s = o.pos[0]};
    ex = start_request("get", &o, w, "get", &arg, 1, &c, &first);
    zhtp_wallet_free(w);
    if (ex != ZHTP_EXIT_OK)
        goto out;
    progress p = {.on = false};
    last = await_done("get", &c, &p, "fetching", false);
    if (last == NULL) {
        bar_end(&p);
        ex = ZHTP_EXIT_UNREACHABLE;
        goto out;
    }
    if (!json_is_true(json_object_get(last, "ok"))) {
        bar_end(&p);
        ex = refused("get", last);
        goto out;
    }
    json_t *res = json_object_get(last, "result");
    json_int_t size = json_integer_value(json_object_get(res, "size"));
    if (size < 0 || strcmp(jstr(res, "id", ""), o.pos[0]) != 0) {
        fprintf(stderr, "zhtp get: the daemon's answer names another content or no size\n");
        ex = ZHTP_EXIT_FAIL;
        goto out;
    }
    if (p.on || (isatty(STDERR_FILENO) && (uint64_t)size > PROGRESS_MIN)) {
        if (p.on)
            fputc('\n', stderr);
        p.on = true;
        p.t0 = mono_s();
    }
    chunk = malloc(IO_CHUNK);
    uint64_t got = 0;
    while (chunk != NULL && got < (uint64_t)size) {
        uint64_t want = (uint64_t)size - got;
        ssize_t k = read_raw(&c, chunk, want < IO_CHUNK ? (size_t)want : IO_CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        for (ssize_t off = 0; off < k;) {
            ssize_t m = write(ofd, chunk + off, (size_t)(k - off));
            if (m < 0 && errno == EINTR)
                continue;
            if (m <= 0) {
                bar_end(&p);
                fprintf(stderr, "zhtp get: writing %s: %s\n", out ? tmp : "stdout",
                        strerror(errno));
                ex = ZHTP_EXIT_FAIL;
                goto out;
            }
            off += m;
        }
        got += (uint64_t)k;
        bar(&p, "receive", got, (uint64_t)size, got == (uint64_t)size);
    }
    bar_end(&p);
    if (got != (uint64_t)size) {
        fprintf(stderr,
                "zhtp get: the daemon sent %" PRIu64 " of %" JSON_INTEGER_FORMAT " bytes%s\n", got,
                size, out ? ": nothing written" : "");
        ex = ZHTP_EXIT_FAIL;
        goto out;
    }
    if (out != NULL) {
        if (fsync(ofd) != 0 || close(ofd) != 0) {
            ofd = -1;
            fprintf(stderr, "zhtp get: %s: %s\n", tmp, strerror(errno));
            ex = ZHTP_EXIT_FAIL;
            goto out;
        }
        ofd = -1;
        if (rename(tmp, out) != 0) {
            fprintf(stderr, "zhtp get: renaming to %s: %s\n", out, strerror(errno));
            ex = ZHTP_EXIT_FAIL;
            goto out;
        }
        tmp[0] = '\0';
    }
    if (o.json) {
        char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        fprintf(out ? stdout : stderr, "%s\n", s ? s : "null");
        free(s);
    } else if (out != NULL) {
        fprintf(stderr, "%s: %" JSON_INTEGER_FORMAT " bytes, verified\n", out, size);
    }
    ex = ZHTP_EXIT_OK;
out:
    free(chunk);
    json_decref(first);
    json_decref(last);
    conn_close(&c);
    if (out != NULL) {
        if (ofd >= 0)
            close(ofd);
        if (tmp[0] != '\0')
            unlink(tmp);
    }
    return ex;
}

/* ---- zhtp ping ---- */

static void ping_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp ping NODE [-c COUNT] [-i SECONDS] [--json] [options]\n"
            "Sends COUNT (default 4) reliable, end-to-end encrypted probes to NODE (a node id\n"
            "of 64 hex digits, or its mesh IPv6 address fd5a:...), one every SECONDS (default\n"
            "1), and prints each round trip (send to end-to-end acknowledgement, as measured\n"
            "by the daemon; the first includes the end-to-end handshake) and a summary. A probe\n"
            "unanswered after 5 s is lost. Exit 0 when at least one probe was answered, 1 when\n"
            "none was. Owner, admins and users.\n%s",
            zc_common_help);
}

static long parse_long(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) ? -1 : v;
}

int cmd_ping(int argc, char **argv)
{
    char *rest[64];
    int n = 0;
    long count = 4;
    double interval = 1.0;
    for (int i = 0; i < argc && n < 64; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "-i")) && i + 1 < argc) {
            if (argv[i][1] == 'c') {
                count = parse_long(argv[i + 1], 1, 100000);
            } else {
                char *end;
                interval = strtod(argv[i + 1], &end);
                if (*end != '\0' || !(interval >= 0.0 && interval <= 3600.0))
                    count = -1;
            }
            if (count < 0) {
                fprintf(stderr, "zhtp ping: %s: bad value '%s'\n", argv[i], argv[i + 1]);
                return ZHTP_EXIT_USAGE;
            }
            i++;
            continue;
        }
        rest[n++] = argv[i];
    }
    opts o;
    int pr = zc_parse_opts("ping", n, rest, &o, 1, ping_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    if (o.n_pos != 1 || strlen(o.pos[0]) > ZHTP_CTL_NODE_ARG_MAX) {
        ping_usage(stderr);
        return ZHTP_EXIT_USAGE;
    }
    if (o.request_out != NULL) {
        fprintf(stderr, "zhtp ping: --request-out is not available for ping\n");
        return ZHTP_EXIT_USAGE;
    }
    zhtp_wallet *w = NULL;
    int ex = zc_load_wallet("ping", &o, &w);
    if (ex != ZHTP_EXIT_OK)
        return ex;
    zhtp_ctl_arg arg = {.key = "node", .type = ZHTP_CTL_ARG_STRING, .s = o.pos[0]};
    json_t *replies = json_array();
    long sent = 0, received = 0;
    double mn = 0, mx = 0, sum = 0;
    char node[80] = "";
    ex = ZHTP_EXIT_OK;
    for (long seq = 1; seq <= count; seq++) {
        if (seq > 1 && interval > 0) {
            struct timespec ts = {(time_t)interval,
                                  (long)((interval - (double)(time_t)interval) * 1e9)};
            nanosleep(&ts, NULL);
        }
        conn c;
        json_t *first = NULL;
        for (int tries = 0;; tries++) {
            last_code = 0;
            ex = start_request("ping", &o, w, "ping", &arg, 1, &c, &first);
            /* ERR_AGAIN: the daemon started a lookup of the address's node id; ask again. */
            if (ex != ZHTP_EXIT_FAIL || last_code != ZHTP_ERR_AGAIN || tries >= PING_RETRY_MAX)
                break;
            struct timespec ts = {0, 250000000};
            nanosleep(&ts, NULL);
        }
        if (ex != ZHTP_EXIT_OK) {
            if (last_code == ZHTP_ERR_AGAIN)
                fprintf(stderr, "zhtp ping: %s: the daemon found no node with this address\n",
                        o.pos[0]);
            break;
        }
        snprintf(node, sizeof node, "%s", jstr(json_object_get(first, "result"), "node", "?"));
        json_decref(first);
        sent++;
        progress p = {.on = false};
        json_t *last = await_done("ping", &c, &p, "", false);
        conn_close(&c);
        if (last == NULL) {
            ex = ZHTP_EXIT_UNREACHABLE;
            break;
        }
        json_t *res = json_object_get(last, "result");
        if (json_is_true(json_object_get(last, "ok"))) {
            double rtt = json_number_value(json_object_get(res, "rtt_ms"));
            json_int_t hops = json_integer_value(json_object_get(res, "hops"));
            mn = received == 0 || rtt < mn ? rtt : mn;
            mx = received == 0 || rtt > mx ? rtt : mx;
            sum += rtt;
            received++;
            json_array_append_new(replies, json_pack("{s:i,s:f,s:I}", "seq", (int)seq, "rtt_ms",
                                                     rtt, "hops", (json_int_t)hops));
            if (!o.json)
                printf("reply from %.16s...: seq=%ld time=%.2f ms hops=%" JSON_INTEGER_FORMAT "\n",
                       node, seq, rtt, hops);
        } else {
            json_array_append_new(replies, json_pack("{s:i,s:s}", "seq", (int)seq, "error",
                                                     jstr(last, "error", "?")));
            if (!o.json)
                printf("no reply from %.16s...: seq=%ld %s\n", node, seq,
                       jstr(last, "reason", "lost"));
        }
        fflush(stdout);
        json_decref(last);
    }
    zhtp_wallet_free(w);
    if (sent == 0) {
        json_decref(replies);
        return ex;
    }
    double loss = 100.0 * (double)(sent - received) / (double)sent;
    if (o.json) {
        json_t *j =
            json_pack("{s:s,s:I,s:I,s:f,s:o}", "node", node, "sent", (json_int_t)sent, "received",
                      (json_int_t)received, "loss_pct", loss, "replies", replies);
        if (received > 0) {
            json_object_set_new(j, "rtt_min_ms", json_real(mn));
            json_object_set_new(j, "rtt_avg_ms", json_real(sum / (double)received));
            json_object_set_new(j, "rtt_max_ms", json_real(mx));
        }
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        puts(s ? s : "null");
        free(s);
        json_decref(j);
    } else {
        json_decref(replies);
        printf("--- %.16s... ping statistics ---\n%ld sent, %ld received, %.0f%% loss", node, sent,
               received, loss);
        if (received > 0)
            printf(", rtt min/avg/max = %.2f/%.2f/%.2f ms", mn, sum / (double)received, mx);
        putchar('\n');
    }
    if (ex != ZHTP_EXIT_OK)
        return ex;
    return received > 0 ? ZHTP_EXIT_OK : ZHTP_EXIT_FAIL;
}
