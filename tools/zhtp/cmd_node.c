/* zhtp init / wallet / status / peers / admin / audit: the node's control commands (docs/cli.md).
 *
 * Every command but init, wallet and `audit verify` signs one request with the caller's wallet
 * (include/zhtp/security.h), sends it as one line to zhtpd's control socket and prints the
 * response. Policy is the daemon's: this side only builds, sends and formats. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmds.h"
#include "zhtp/audit.h"
#include "zhtp/security.h"
#include "zhtp/util.h"
#include "zhtp/wallet.h"

/* The daemon's layout of DATA_DIR (src/runtime/control.h; the CLI does not link the runtime). */
#define DD_POLICY "policy"
#define DD_AUDIT  "audit"
#define DD_SOCKET "control.sock"

#define PASS_MAX    1024
#define REQ_MAX     (ZHTP_CTL_LINE_MAX + 2)
#define REPLY_TIMEO 15 /* seconds to wait for the daemon's answer */

const char zc_common_help[] =
    "  --control PATH          the daemon's control socket (default DATA_DIR/control.sock)\n"
    "  --data-dir DIR          the daemon's data directory\n"
    "  --wallet FILE           your wallet (default ~/.config/zhtp/wallet.key)\n"
    "  --passphrase-file F     the wallet passphrase, first line of F (else a terminal prompt)\n"
    "  --request-out FILE      write the signed request line to FILE instead of sending it\n"
    "exit codes: 0 ok, 1 refused or failed, 2 bad command line, 3 daemon not reachable,\n"
    "4 (get) no node holds the content\n";

int zc_parse_opts(const char *cmd, int argc, char **argv, opts *o, int max_pos,
                  void (*usage)(FILE *))
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -2;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        } else if (!strcmp(a, "--control"))
            dst = &o->control;
        else if (!strcmp(a, "--data-dir"))
            dst = &o->data_dir;
        else if (!strcmp(a, "--wallet"))
            dst = &o->wallet;
        else if (!strcmp(a, "--passphrase-file"))
            dst = &o->pass_file;
        else if (!strcmp(a, "--request-out"))
            dst = &o->request_out;
        else if (!strcmp(a, "--kdf"))
            dst = &o->kdf;
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "zhtp %s: unknown option '%s' (see --help)\n", cmd, a);
            return -1;
        } else {
            if (o->n_pos >= max_pos) {
                fprintf(stderr, "zhtp %s: unexpected argument '%s' (see --help)\n", cmd, a);
                return -1;
            }
            o->pos[o->n_pos++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "zhtp %s: %s needs a value\n", cmd, a);
            return -1;
        }
        *dst = argv[++i];
    }
    return 0;
}

static int default_wallet(char *out, size_t cap, const opts *o, bool create_dir)
{
    if (o->wallet != NULL) {
        snprintf(out, cap, "%s", o->wallet);
        return 0;
    }
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return -1;
    if (create_dir) {
        snprintf(out, cap, "%s/.config", home);
        (void)mkdir(out, 0700);
        snprintf(out, cap, "%s/.config/zhtp", home);
        (void)mkdir(out, 0700);
    }
    snprintf(out, cap, "%s/.config/zhtp/wallet.key", home);
    return 0;
}

static int read_pass_file(const char *cmd, const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "zhtp %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *nl = strpbrk(buf, "\r\n");
    if (nl != NULL)
        *nl = '\0';
    return (int)strlen(buf);
}

static int read_pass_tty(const char *prompt, char *buf, size_t cap)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return -1;
    struct termios saved, quiet;
    int fd = fileno(tty);
    if (tcgetattr(fd, &saved) != 0) {
        fclose(tty);
        return -1;
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    fputs(prompt, tty);
    fflush(tty);
    tcsetattr(fd, TCSAFLUSH, &quiet);
    char *got = fgets(buf, (int)cap, tty);
    tcsetattr(fd, TCSAFLUSH, &saved);
    fputs("\n", tty);
    fclose(tty);
    if (got == NULL)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return (int)strlen(buf);
}

/* The passphrase from --passphrase-file or the terminal (twice when confirm). */
static int get_pass(const char *cmd, const opts *o, bool confirm, char *buf, size_t cap)
{
    if (o->pass_file != NULL)
        return read_pass_file(cmd, o->pass_file, buf, cap);
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "zhtp %s: stdin is not a terminal: give --passphrase-file\n", cmd);
        return -1;
    }
    int n = read_pass_tty("wallet passphrase: ", buf, cap);
    if (n < 0 || !confirm)
        return n;
    char again[PASS_MAX];
    int m = read_pass_tty("wallet passphrase again: ", again, sizeof again);
    bool same = m == n && zhtp_ct_memcmp(buf, again, (size_t)n) == 0;
    zhtp_wipe(again, sizeof again);
    if (!same) {
        fprintf(stderr, "zhtp %s: the passphrases differ\n", cmd);
        return -1;
    }
    return n;
}

int zc_load_wallet(const char *cmd, const opts *o, zhtp_wallet **w)
{
    char path[1024], pass[PASS_MAX];
    if (default_wallet(path, sizeof path, o, false) != 0) {
        fprintf(stderr, "zhtp %s: no --wallet and no $HOME\n", cmd);
        return ZHTP_EXIT_USAGE;
    }
    int plen = get_pass(cmd, o, false, pass, sizeof pass);
    if (plen < 0) {
        zhtp_wipe(pass, sizeof pass);
        return ZHTP_EXIT_FAIL;
    }
    int rc = zhtp_wallet_load(w, path, pass, (size_t)plen);
    zhtp_wipe(pass, sizeof pass);
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp %s: wallet %s: %s\n", cmd, path, zhtp_strerror(rc));
        return ZHTP_EXIT_FAIL;
    }
    return ZHTP_EXIT_OK;
}

static void hex_str(char *out, const uint8_t *b, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int zc_connect(const char *cmd, const opts *o, int *fd_out)
{
    char path[1024];
    if (o->control != NULL)
        snprintf(path, sizeof path, "%s", o->control);
    else if (o->data_dir != NULL)
        snprintf(path, sizeof path, "%s/%s", o->data_dir, DD_SOCKET);
    else {
        fprintf(stderr, "zhtp %s: give --control PATH or --data-dir DIR\n", cmd);
        return ZHTP_EXIT_USAGE;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "zhtp %s: %s: path too long for a Unix socket\n", cmd, path);
        return ZHTP_EXIT_USAGE;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "zhtp %s: daemon not reachable at %s: %s\n", cmd, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ZHTP_EXIT_UNREACHABLE;
    }
    *fd_out = fd;
    return ZHTP_EXIT_OK;
}

/* Connects, sends line, reads one response line into a jansson object. */
static int exchange(const char *cmd, const opts *o, const char *line, size_t len, json_t **resp)
{
    int fd = -1;
    int ex = zc_connect(cmd, o, &fd);
    if (ex != ZHTP_EXIT_OK)
        return ex;
    const char *path = o->control != NULL ? o->control : o->data_dir;
    struct timeval tv = {.tv_sec = REPLY_TIMEO};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            fprintf(stderr, "zhtp %s: sending to %s: %s\n", cmd, path, strerror(errno));
            close(fd);
            return ZHTP_EXIT_UNREACHABLE;
        }
        off += (size_t)n;
    }
    char *buf = malloc(ZHTP_CTL_RESPONSE_MAX + 1);
    size_t got = 0;
    while (buf != NULL && got < ZHTP_CTL_RESPONSE_MAX && memchr(buf, '\n', got) == NULL) {
        ssize_t n = recv(fd, buf + got, ZHTP_CTL_RESPONSE_MAX - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || memchr(buf, '\n', got) == NULL) {
        fprintf(stderr, "zhtp %s: no complete answer from %s\n", cmd, path);
        free(buf);
        return ZHTP_EXIT_UNREACHABLE;
    }
    buf[got] = '\0';
    json_error_t je;
    *resp = json_loads(buf, JSON_DISABLE_EOF_CHECK | JSON_PRESERVE_ORDER, &je);
    free(buf);
    if (*resp == NULL || !json_is_object(*resp)) {
        fprintf(stderr, "zhtp %s: the daemon's answer is not JSON: %s\n", cmd, je.text);
        json_decref(*resp);
        return ZHTP_EXIT_FAIL;
    }
    return ZHTP_EXIT_OK;
}

/* The string member k of o, or dflt. */
static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v != NULL ? v : dflt;
}

/* Signs op+args, sends, and on success hands the "result" to *result (new reference). */
static int request(const char *cmd, const opts *o, const char *op, const zhtp_ctl_arg *args,
                   size_t n_args, json_t **result)
{
    *result = NULL;
    zhtp_wallet *w = NULL;
    int ex = zc_load_wallet(cmd, o, &w);
    if (ex != ZHTP_EXIT_OK)
        return ex;
    char *line = malloc(REQ_MAX);
    zhtp_ssize len = line ? zhtp_ctl_request_build(line, REQ_MAX, w, op, args, n_args, NULL, 0,
                                                   (int64_t)time(NULL))
                          : ZHTP_ERR_NOMEM;
    zhtp_wallet_free(w);
    if (len < 0) {
        fprintf(stderr, "zhtp %s: cannot build the request: %s\n", cmd, zhtp_strerror((int)len));
        free(line);
        return len == ZHTP_ERR_INVAL ? ZHTP_EXIT_USAGE : ZHTP_EXIT_FAIL;
    }
    if (o->request_out != NULL) {
        FILE *f = fopen(o->request_out, "w");
        bool ok = f != NULL && fwrite(line, 1, (size_t)len, f) == (size_t)len;
        if (f != NULL && fclose(f) != 0)
            ok = false;
        free(line);
        if (!ok) {
            fprintf(stderr, "zhtp %s: %s: %s\n", cmd, o->request_out, strerror(errno));
            return ZHTP_EXIT_FAIL;
        }
        return ZHTP_EXIT_OK;
    }
    json_t *resp = NULL;
    ex = exchange(cmd, o, line, (size_t)len, &resp);
    free(line);
    if (ex != ZHTP_EXIT_OK)
        return ex;
    if (!json_is_true(json_object_get(resp, "ok"))) {
        fprintf(stderr, "zhtp %s: refused: %s (%s)\n", cmd, jstr(resp, "error", "?"),
                jstr(resp, "reason", ""));
        json_decref(resp);
        return ZHTP_EXIT_FAIL;
    }
    *result = json_incref(json_object_get(resp, "result"));
    json_decref(resp);
    return ZHTP_EXIT_OK;
}

static void print_json(const json_t *v)
{
    if (v == NULL) {
        puts("null");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    puts(s ? s : "null");
    free(s);
}

/* ---- zhtp init ---- */

static void init_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp init --data-dir DIR [--wallet FILE] [--passphrase-file F] [--kdf L]\n"
            "Makes a wallet the owner of the node whose data directory is DIR (the policy\n"
            "store DIR/policy). The wallet FILE is created if absent (hybrid Ed25519 +\n"
            "ML-DSA-44, encrypted under the passphrase), else loaded. Refused when DIR\n"
            "already has an owner. Works with the daemon running or stopped.\n"
            "  --kdf L   moderate (default, ~0.5-1 s, 256 MiB), interactive (64 MiB),\n"
            "            min (tests only: almost no protection of the wallet at rest)\n%s",
            zc_common_help);
}

static int kdf_params(const char *cmd, const char *kdf, zhtp_keyfile_params *p)
{
    memset(p, 0, sizeof *p);
    if (kdf == NULL || !strcmp(kdf, "moderate")) {
        p->opslimit = ZHTP_KEYFILE_OPSLIMIT_MODERATE;
        p->memlimit = ZHTP_KEYFILE_MEMLIMIT_MODERATE;
    } else if (!strcmp(kdf, "interactive")) {
        p->opslimit = ZHTP_KEYFILE_OPSLIMIT_INTERACTIVE;
        p->memlimit = ZHTP_KEYFILE_MEMLIMIT_INTERACTIVE;
    } else if (!strcmp(kdf, "min")) {
        p->opslimit = ZHTP_KEYFILE_OPSLIMIT_MIN;
        p->memlimit = ZHTP_KEYFILE_MEMLIMIT_MIN;
    } else {
        fprintf(stderr, "zhtp %s: --kdf: expected moderate, interactive or min\n", cmd);
        return -1;
    }
    return 0;
}

/* Loads the wallet at path if it exists, else creates it. */
static int open_or_create_wallet(const char *cmd, const opts *o, const char *path, zhtp_wallet **w,
                                 bool *created)
{
    zhtp_keyfile_params kp;
    if (kdf_params(cmd, o->kdf, &kp) != 0)
        return ZHTP_EXIT_USAGE;
    struct stat st;
    *created = stat(path, &st) != 0;
    if (!*created)
        return zc_load_wallet(cmd, o, w);
    char pass[PASS_MAX];
    int plen = get_pass(cmd, o, true, pass, sizeof pass);
    int rc = ZHTP_ERR_INVAL;
    if (plen > 0) {
        rc = zhtp_wallet_generate(w);
        if (rc == ZHTP_OK)
            rc = zhtp_wallet_save(*w, path, pass, (size_t)plen, &kp, false);
    } else if (plen == 0)
        fprintf(stderr, "zhtp %s: empty passphrase refused\n", cmd);
    zhtp_wipe(pass, sizeof pass);
    if (rc != ZHTP_OK) {
        if (plen > 0)
            fprintf(stderr, "zhtp %s: wallet %s: %s\n", cmd, path, zhtp_strerror(rc));
        zhtp_wallet_free(*w);
        *w = NULL;
        return ZHTP_EXIT_FAIL;
    }
    return ZHTP_EXIT_OK;
}

int cmd_init(int argc, char **argv)
{
    opts o;
    int pr = zc_parse_opts("init", argc, argv, &o, 0, init_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    if (o.data_dir == NULL) {
        fprintf(stderr, "zhtp init: --data-dir DIR is required (see --help)\n");
        return ZHTP_EXIT_USAGE;
    }
    char dir[1024], wpath[1024];
    if (default_wallet(wpath, sizeof wpath, &o, true) != 0) {
        fprintf(stderr, "zhtp init: no --wallet and no $HOME\n");
        return ZHTP_EXIT_USAGE;
    }
    snprintf(dir, sizeof dir, "%s/%s", o.data_dir, DD_POLICY);
    if ((mkdir(o.data_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        fprintf(stderr, "zhtp init: %s: %s\n", dir, strerror(errno));
        return ZHTP_EXIT_FAIL;
    }
    zhtp_ctl_roles *roles = NULL;
    int rc = zhtp_ctl_roles_open(&roles, dir);
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp init: policy store %s: %s\n", dir, zhtp_strerror(rc));
        return ZHTP_EXIT_FAIL;
    }
    uint8_t owner[ZHTP_WALLET_PK_BYTES], id[ZHTP_WALLET_ID_BYTES];
    char idhex[2 * ZHTP_WALLET_ID_BYTES + 1];
    /* Checked before the wallet is made: no passphrase asked, no file left behind. */
    if (zhtp_ctl_roles_owner(roles, owner) == ZHTP_OK) {
        zhtp_wallet_id(id, owner);
        hex_str(idhex, id, sizeof id);
        fprintf(stderr, "zhtp init: %s already has an owner (wallet id %s): refused\n", o.data_dir,
                idhex);
        zhtp_ctl_roles_close(roles);
        return ZHTP_EXIT_FAIL;
    }
    zhtp_wallet *w = NULL;
    bool created = false;
    int ex = open_or_create_wallet("init", &o, wpath, &w, &created);
    if (ex != ZHTP_EXIT_OK) {
        zhtp_ctl_roles_close(roles);
        return ex;
    }
    rc = zhtp_ctl_roles_init_owner(roles, zhtp_wallet_public_key(w));
    zhtp_wallet_id(id, zhtp_wallet_public_key(w));
    zhtp_wallet_free(w);
    zhtp_ctl_roles_close(roles);
    hex_str(idhex, id, sizeof id);
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp init: setting the owner: %s\n", zhtp_strerror(rc));
        return ZHTP_EXIT_FAIL;
    }
    printf("owner wallet %s (%s, wallet id %s) set in %s\n", wpath,
           created ? "created" : "existing", idhex, dir);
    return ZHTP_EXIT_OK;
}

/* ---- zhtp wallet ---- */

static void wallet_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp wallet create|show [--wallet FILE] [--passphrase-file F] [--kdf L]\n"
            "                   [--json]\n"
            "create: a new wallet file (refused if it exists). show: its public key (hex,\n"
            "the KEY of `zhtp admin add-admin KEY`) and wallet id.\n%s",
            zc_common_help);
}

int cmd_wallet(int argc, char **argv)
{
    opts o;
    int pr = zc_parse_opts("wallet", argc, argv, &o, 1, wallet_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    bool create = o.n_pos == 1 && !strcmp(o.pos[0], "create");
    if (o.n_pos != 1 || (!create && strcmp(o.pos[0], "show") != 0)) {
        wallet_usage(stderr);
        return ZHTP_EXIT_USAGE;
    }
    char wpath[1024];
    if (default_wallet(wpath, sizeof wpath, &o, create) != 0) {
        fprintf(stderr, "zhtp wallet: no --wallet and no $HOME\n");
        return ZHTP_EXIT_USAGE;
    }
    struct stat st;
    if (create && stat(wpath, &st) == 0) {
        fprintf(stderr, "zhtp wallet: %s exists: refused\n", wpath);
        return ZHTP_EXIT_FAIL;
    }
    zhtp_wallet *w = NULL;
    bool created;
    int ex = create ? open_or_create_wallet("wallet", &o, wpath, &w, &created)
                    : zc_load_wallet("wallet", &o, &w);
    if (ex != ZHTP_EXIT_OK)
        return ex;
    static char pk[ZHTP_WALLET_PK_HEX + 1];
    uint8_t id[ZHTP_WALLET_ID_BYTES];
    char idhex[2 * ZHTP_WALLET_ID_BYTES + 1];
    hex_str(pk, zhtp_wallet_public_key(w), ZHTP_WALLET_PK_BYTES);
    zhtp_wallet_id(id, zhtp_wallet_public_key(w));
    hex_str(idhex, id, sizeof id);
    zhtp_wallet_free(w);
    if (o.json)
        printf("{\"file\":\"%s\",\"wallet_id\":\"%s\",\"public_key\":\"%s\"}\n", wpath, idhex, pk);
    else
        printf("file: %s\nwallet id: %s\npublic key: %s\n", wpath, idhex, pk);
    return ZHTP_EXIT_OK;
}

/* ---- zhtp status / peers ---- */

static void status_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp status [--json] [options]\n"
            "The daemon's node id, state (searching, connected, stopped), peer count, uptime,\n"
            "emergency stop and connection limit. Allowed to any wallet.\n%s",
            zc_common_help);
}

static void peers_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp peers [--json] [options]\n"
            "The authenticated neighbours: node id, links, link cost, tree position.\n"
            "Allowed to the owner, admins and users.\n%s",
            zc_common_help);
}

static int simple_read(const char *cmd, const char *op, int argc, char **argv,
                       void (*usage)(FILE *), void (*human)(const json_t *))
{
    opts o;
    int pr = zc_parse_opts(cmd, argc, argv, &o, 0, usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    json_t *res;
    int ex = request(cmd, &o, op, NULL, 0, &res);
    if (ex != ZHTP_EXIT_OK || o.request_out != NULL)
        return ex;
    if (o.json)
        print_json(res);
    else
        human(res);
    json_decref(res);
    return ZHTP_EXIT_OK;
}

static void status_human(const json_t *r)
{
    printf("node id:          %s\n", jstr(r, "node_id", "?"));
    printf("state:            %s\n", jstr(r, "state", "?"));
    printf("peers:            %" JSON_INTEGER_FORMAT "\n",
           json_integer_value(json_object_get(r, "peers")));
    printf("uptime:           %" JSON_INTEGER_FORMAT " s\n",
           json_integer_value(json_object_get(r, "uptime_s")));
    const char *v6 = json_string_value(json_object_get(r, "ipv6"));
    printf("ipv6:             %s\n", v6 ? v6 : "none (no TUN interface)");
    printf("emergency stop:   %s\n",
           json_is_true(json_object_get(r, "emergency_stop")) ? "YES" : "no");
    json_int_t lim = json_integer_value(json_object_get(r, "connection_limit"));
    if (lim == 0)
        printf("connection limit: none\n");
    else
        printf("connection limit: %" JSON_INTEGER_FORMAT "\n", lim);
}

static void peers_human(const json_t *r)
{
    size_t i;
    json_t *p;
    if (json_array_size(r) == 0) {
        puts("no peers");
        return;
    }
    json_array_foreach(r, i, p)
    {
        printf("%s %s links=%" JSON_INTEGER_FORMAT " cost=%" JSON_INTEGER_FORMAT "%s%s\n",
               jstr(p, "id", "?"), jstr(p, "state", "?"),
               json_integer_value(json_object_get(p, "links")),
               json_integer_value(json_object_get(p, "link_cost")),
               json_is_true(json_object_get(p, "parent")) ? " parent" : "",
               json_is_true(json_object_get(p, "child")) ? " child" : "");
    }
}

int cmd_status(int argc, char **argv)
{
    return simple_read("status", "status", argc, argv, status_usage, status_human);
}

int cmd_peers(int argc, char **argv)
{
    return simple_read("peers", "peers", argc, argv, peers_usage, peers_human);
}

/* ---- zhtp admin ---- */

static void admin_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp admin stop|resume|disconnect PEER|limit N|add-admin KEY|\n"
            "                  remove-admin KEY [options]\n"
            "  stop        emergency stop (owner; persisted across restarts): the daemon reads\n"
            "              and sends no datagram and freezes the node clock until resume\n"
            "  resume      lift the emergency stop (owner)\n"
            "  disconnect PEER   close the sessions with node id PEER (64 hex); it may come\n"
            "              back through discovery (admin any, user its own)\n"
            "  limit N     connection limit, applied at once and after restarts, 0 = the\n"
            "              default (owner)\n"
            "  add-admin KEY / remove-admin KEY   KEY: wallet public key hex, see\n"
            "              `zhtp wallet show` (owner)\n%s",
            zc_common_help);
}

int cmd_admin(int argc, char **argv)
{
    opts o;
    int pr = zc_parse_opts("admin", argc, argv, &o, 2, admin_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    if (o.n_pos == 0) {
        admin_usage(stderr);
        return ZHTP_EXIT_USAGE;
    }
    const char *op = o.pos[0];
    zhtp_ctl_arg arg = {0};
    size_t n_args = 0;
    bool needs = !strcmp(op, "disconnect") || !strcmp(op, "limit") || !strcmp(op, "add-admin") ||
                 !strcmp(op, "remove-admin");
    bool known = needs || !strcmp(op, "stop") || !strcmp(op, "resume");
    if (!known || o.n_pos != (needs ? 2 : 1)) {
        fprintf(stderr, "zhtp admin: expected %s\n",
                known ? (needs ? "one argument after the operation" : "no argument")
                      : "stop, resume, disconnect, limit, add-admin or remove-admin");
        return ZHTP_EXIT_USAGE;
    }
    if (needs) {
        n_args = 1;
        arg.type = ZHTP_CTL_ARG_STRING;
        arg.s = o.pos[1];
        if (!strcmp(op, "disconnect"))
            arg.key = "peer";
        else if (!strcmp(op, "limit")) {
            char *end;
            errno = 0;
            long long v = strtoll(o.pos[1], &end, 10);
            if (*end != '\0' || errno != 0 || v < 0 || v > ZHTP_CTL_LIMIT_MAX) {
                fprintf(stderr, "zhtp admin: limit: N must be 0..%d\n", ZHTP_CTL_LIMIT_MAX);
                return ZHTP_EXIT_USAGE;
            }
            arg.key = "max";
            arg.type = ZHTP_CTL_ARG_INT;
            arg.i = v;
        } else
            arg.key = "wallet";
    }
    json_t *res;
    int ex = request("admin", &o, op, &arg, n_args, &res);
    if (ex != ZHTP_EXIT_OK || o.request_out != NULL)
        return ex;
    if (o.json) {
        print_json(res);
    } else {
        const char *effect = json_string_value(json_object_get(res, "effect"));
        const char *note = json_string_value(json_object_get(res, "note"));
        printf("%s: done%s%s%s%s\n", op, effect ? ": " : "", effect ? effect : "", note ? ": " : "",
               note ? note : "");
    }
    json_decref(res);
    return ZHTP_EXIT_OK;
}

/* ---- zhtp audit ---- */

static void audit_usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp audit [--from N] [--count N] [--json] [options]\n"
            "       zhtp audit verify --data-dir DIR\n"
            "The first form asks the daemon for a page of the audit log (owner, admins;\n"
            "count 1..%d, default 20). verify walks the hash chain DIRECTLY in\n"
            "DIR/audit (LMDB, read by this process; the daemon may be running or stopped)\n"
            "and prints the head (entry count, last hash): keep a copy of it elsewhere, a\n"
            "whole-file rewrite is only detectable against it. verify exits 1 on a broken or\n"
            "truncated chain.\n%s",
            ZHTP_CTL_AUDIT_PAGE_MAX, zc_common_help);
}

static int audit_verify(const opts *o)
{
    if (o->data_dir == NULL) {
        fprintf(stderr, "zhtp audit verify: --data-dir DIR is required\n");
        return ZHTP_EXIT_USAGE;
    }
    char dir[1024], f[1100];
    snprintf(dir, sizeof dir, "%s/%s", o->data_dir, DD_AUDIT);
    snprintf(f, sizeof f, "%s/data.mdb", dir);
    struct stat st;
    if (stat(f, &st) != 0) {
        fprintf(stderr, "zhtp audit verify: %s: no audit log (%s)\n", dir, strerror(errno));
        return ZHTP_EXIT_FAIL;
    }
    zhtp_audit *a = NULL;
    int rc = zhtp_audit_open(&a, dir);
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp audit verify: %s: %s\n", dir, zhtp_strerror(rc));
        return ZHTP_EXIT_FAIL;
    }
    uint64_t bad = 0, count = 0;
    uint8_t head[ZHTP_AUDIT_HASH_BYTES];
    char hh[2 * ZHTP_AUDIT_HASH_BYTES + 1];
    rc = zhtp_audit_verify(a, &bad);
    int hrc = zhtp_audit_head(a, &count, head);
    zhtp_audit_close(a);
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp audit verify: %s: %s at entry %" PRIu64 "\n", dir, zhtp_strerror(rc),
                bad);
        printf(o->json ? "{\"ok\":false,\"error\":\"%s\",\"index\":%" PRIu64 "}\n"
                       : "FAILED: %s at entry %" PRIu64 "\n",
               zhtp_err_name(rc), bad);
        return ZHTP_EXIT_FAIL;
    }
    if (hrc != ZHTP_OK)
        memset(head, 0, sizeof head);
    hex_str(hh, head, sizeof head);
    if (o->json)
        printf("{\"ok\":true,\"entries\":%" PRIu64 ",\"head\":\"%s\"}\n", count, hh);
    else
        printf("audit log %s: %" PRIu64 " entries, chain intact, head %s\n", dir, count, hh);
    return ZHTP_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    /* --from/--count are this command's own: pull them out before the common parser. */
    char *rest[64];
    int n = 0;
    const char *from = NULL, *count = NULL;
    for (int i = 0; i < argc && n < 64; i++) {
        if ((!strcmp(argv[i], "--from") || !strcmp(argv[i], "--count")) && i + 1 < argc) {
            *(argv[i][2] == 'f' ? &from : &count) = argv[i + 1];
            i++;
            continue;
        }
        rest[n++] = argv[i];
    }
    opts o;
    int pr = zc_parse_opts("audit", n, rest, &o, 1, audit_usage);
    if (pr != 0)
        return pr == -2 ? ZHTP_EXIT_OK : ZHTP_EXIT_USAGE;
    if (o.n_pos == 1) {
        if (strcmp(o.pos[0], "verify") != 0) {
            audit_usage(stderr);
            return ZHTP_EXIT_USAGE;
        }
        return audit_verify(&o);
    }
    zhtp_ctl_arg args[2];
    size_t na = 0;
    const char *vals[2] = {from, count}, *keys[2] = {"from", "count"};
    for (int k = 0; k < 2; k++) {
        if (vals[k] == NULL)
            continue;
        char *end;
        errno = 0;
        long long v = strtoll(vals[k], &end, 10);
        if (*end != '\0' || errno != 0 || v < 0) {
            fprintf(stderr, "zhtp audit: --%s: expected a number\n", keys[k]);
            return ZHTP_EXIT_USAGE;
        }
        args[na++] = (zhtp_ctl_arg){.key = keys[k], .type = ZHTP_CTL_ARG_INT, .i = v};
    }
    json_t *res;
    int ex = request("audit", &o, "audit", args, na, &res);
    if (ex != ZHTP_EXIT_OK || o.request_out != NULL)
        return ex;
    if (o.json) {
        print_json(res);
    } else {
        size_t i;
        json_t *e;
        printf("%" JSON_INTEGER_FORMAT " entries in all\n",
               json_integer_value(json_object_get(res, "total")));
        json_array_foreach(json_object_get(res, "entries"), i, e)
        {
            time_t ts = (time_t)json_integer_value(json_object_get(e, "ts"));
            struct tm tm;
            char when[32];
            gmtime_r(&ts, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("%6" JSON_INTEGER_FORMAT " %s %-12s caller %.16s %s %s\n",
                   json_integer_value(json_object_get(e, "index")), when, jstr(e, "op", "?"),
                   jstr(e, "caller", "?"),
                   json_is_true(json_object_get(e, "success")) ? "ok     " : "REFUSED",
                   jstr(e, "reason", ""));
        }
    }
    json_decref(res);
    return ZHTP_EXIT_OK;
}
