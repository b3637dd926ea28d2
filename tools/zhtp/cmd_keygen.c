/* zhtp keygen / zhtp id: create a node identity in an encrypted key file, and show the public
 * identity and node id of one. The passphrase comes from --passphrase-file or, on a terminal,
 * from a prompt with echo off; never from the command line, where `ps` would show it. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "zhtp/identity.h"
#include "zhtp/keyfile.h"
#include "zhtp/util.h"

#include "cmds.h"

#define PASS_MAX 1024

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: zhtp keygen [--out FILE] [--passphrase-file F] [--force] [--kdf LEVEL]\n"
               "\n"
               "Creates a node identity (signing: ML-DSA-44 + Ed25519; key exchange: ML-KEM-768 +\n"
               "X25519), writes it encrypted under a passphrase (Argon2id, XChaCha20-Poly1305) to\n"
               "FILE with mode 0600, and prints the node id in hex on stdout.\n"
               "\n"
               "  --out FILE            key file (default: $ZHTP_HOME/identity.key, else\n"
               "                        ${XDG_CONFIG_HOME:-$HOME/.config}/zhtp/identity.key)\n"
               "  --passphrase-file F   read the passphrase from F (first line; one trailing\n"
               "                        newline is removed). Without it the passphrase is asked\n"
               "                        twice on the terminal; stdin must then be a terminal.\n"
               "  --force               replace an existing FILE (refused otherwise)\n"
               "  --kdf LEVEL           Argon2id cost: moderate (default, 256 MiB) or\n"
               "                        interactive (64 MiB: small devices and tests)\n"
               "\n"
               "exit codes: 0 success, 1 the operation failed, 2 bad command line\n");
}

static void id_usage(FILE *f)
{
    fprintf(f, "usage: zhtp id [FILE] [--passphrase-file F] [--json]\n"
               "\n"
               "Decrypts the key file FILE (default as for zhtp keygen) and prints its node id\n"
               "and public identity (version || signing key || KEM key), both in hex.\n"
               "\n"
               "  --passphrase-file F   read the passphrase from F (else a terminal prompt)\n"
               "  --json                one JSON object: node_id, public_identity, file\n"
               "\n"
               "exit codes: 0 success, 1 the operation failed (wrong passphrase, damaged\n"
               "file, ...), 2 bad command line\n");
}

/* The default key file path; creates its directory (0700) when create_dir is set. */
static int default_path(char *out, size_t cap, bool create_dir)
{
    const char *home = getenv("ZHTP_HOME");
    char dir[3000];
    if (home && *home) {
        snprintf(dir, sizeof dir, "%s", home);
    } else {
        const char *xdg = getenv("XDG_CONFIG_HOME");
        const char *h = getenv("HOME");
        if (xdg && *xdg)
            snprintf(dir, sizeof dir, "%s/zhtp", xdg);
        else if (h && *h)
            snprintf(dir, sizeof dir, "%s/.config/zhtp", h);
        else
            return -1;
        if (create_dir && !(xdg && *xdg)) {
            char parent[3000];
            snprintf(parent, sizeof parent, "%s/.config", h);
            if (mkdir(parent, 0700) != 0 && errno != EEXIST)
                return -1;
        }
    }
    if (create_dir && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return snprintf(out, cap, "%s/identity.key", dir) < (int)cap ? 0 : -1;
}

/* Reads the passphrase from a file: its first line, without the newline. Returns its length or
 * -1 (message printed). */
static int pass_from_file(const char *cmd, const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "zhtp %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "zhtp %s: %s: read error\n", cmd, path);
        return -1;
    }
    buf[n] = 0;
    char *nl = memchr(buf, '\n', n);
    if (nl) {
        n = (size_t)(nl - buf);
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    } else if (n == cap - 1) {
        fprintf(stderr, "zhtp %s: %s: passphrase longer than %d bytes\n", cmd, path, PASS_MAX - 1);
        return -1;
    }
    zhtp_wipe(buf + n, cap - n);
    return (int)n;
}

/* The terminal settings to put back if a signal ends us while echo is off. */
static struct termios tty_saved;

static void restore_tty_and_die(int sig)
{
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static const int tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define N_TTY_SIGNALS (sizeof tty_signals / sizeof tty_signals[0])

/* Prompts on the terminal with echo off. Returns the length or -1. */
static int pass_from_tty(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    /* Ctrl-C at the prompt must not leave the user's terminal without echo. */
    tty_saved = old;
    struct sigaction sa, prev[N_TTY_SIGNALS];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_tty_and_die;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_TTY_SIGNALS; i++)
        sigaction(tty_signals[i], &sa, &prev[i]);
    /* Echo goes off (discarding anything typed before) BEFORE the prompt appears, so what is
     * typed after the prompt is neither echoed nor flushed away. */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
        for (size_t i = 0; i < N_TTY_SIGNALS; i++)
            sigaction(tty_signals[i], &prev[i], NULL);
        return -1;
    }
    fputs(prompt, stderr);
    fflush(stderr);
    size_t n = 0;
    int rc = -1;
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (c == '\n') {
            rc = 0;
            break;
        }
        if (n + 1 >= cap)
            break;
        buf[n++] = c;
    }
    tcsetattr(STDIN_FILENO, TCSADRAIN, &old); /* keep what was typed after the newline */
    for (size_t i = 0; i < N_TTY_SIGNALS; i++)
        sigaction(tty_signals[i], &prev[i], NULL);
    fputc('\n', stderr);
    buf[n] = 0;
    if (rc != 0) {
        zhtp_wipe(buf, cap);
        return -1;
    }
    return (int)n;
}

/* Gets the passphrase from --passphrase-file or the terminal. confirm: ask twice. Returns the
 * length, -1 for a failure (exit 1) or -2 for a usage problem (exit 2); messages printed. */
static int get_pass(const char *cmd, const char *file, bool confirm, char *buf, size_t cap)
{
    if (file)
        return pass_from_file(cmd, file, buf, cap);
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "zhtp %s: stdin is not a terminal: give --passphrase-file\n", cmd);
        return -2;
    }
    int n = pass_from_tty("passphrase: ", buf, cap);
    if (n < 0 || !confirm)
        return n;
    char again[PASS_MAX];
    int m = pass_from_tty("passphrase again: ", again, sizeof again);
    bool same = m == n && memcmp(buf, again, (size_t)n) == 0;
    zhtp_wipe(again, sizeof again);
    if (!same) {
        fprintf(stderr, "zhtp %s: the passphrases differ\n", cmd);
        zhtp_wipe(buf, cap);
        return -1;
    }
    return n;
}

/* Takes the value of an option that needs one. */
static const char *opt_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "zhtp %s: %s needs a value\n", argv[0], argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL, *pass_file = NULL;
    bool force = false;
    zhtp_keyfile_params params = {0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            keygen_usage(stdout);
            return ZHTP_EXIT_OK;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (!(out = opt_value(argc, argv, &i)))
                return ZHTP_EXIT_USAGE;
        } else if (!strcmp(a, "--passphrase-file")) {
            if (!(pass_file = opt_value(argc, argv, &i)))
                return ZHTP_EXIT_USAGE;
        } else if (!strcmp(a, "--force")) {
            force = true;
        } else if (!strcmp(a, "--kdf")) {
            const char *v = opt_value(argc, argv, &i);
            if (!v)
                return ZHTP_EXIT_USAGE;
            if (!strcmp(v, "interactive")) {
                params.opslimit = ZHTP_KEYFILE_OPSLIMIT_INTERACTIVE;
                params.memlimit = ZHTP_KEYFILE_MEMLIMIT_INTERACTIVE;
            } else if (strcmp(v, "moderate") != 0) {
                fprintf(stderr, "zhtp keygen: --kdf: moderate or interactive, not '%s'\n", v);
                return ZHTP_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "zhtp keygen: unexpected argument '%s'\n\n", a);
            keygen_usage(stderr);
            return ZHTP_EXIT_USAGE;
        }
    }
    char defpath[4096];
    if (!out) {
        if (default_path(defpath, sizeof defpath, true) != 0) {
            fprintf(stderr, "zhtp keygen: cannot make the default key directory; use --out\n");
            return ZHTP_EXIT_FAIL;
        }
        out = defpath;
    }
    /* Refuse early, before asking for a passphrase; the atomic write checks again. */
    if (!force && access(out, F_OK) == 0) {
        fprintf(stderr, "zhtp keygen: %s exists; refusing to overwrite (use --force)\n", out);
        return ZHTP_EXIT_FAIL;
    }

    char pass[PASS_MAX];
    int plen = get_pass("keygen", pass_file, true, pass, sizeof pass);
    if (plen < 0)
        return plen == -2 ? ZHTP_EXIT_USAGE : ZHTP_EXIT_FAIL;
    if (plen == 0) {
        fprintf(stderr, "zhtp keygen: empty passphrase refused\n");
        return ZHTP_EXIT_FAIL;
    }

    int ret = ZHTP_EXIT_FAIL;
    zhtp_identity *id = NULL;
    int rc = zhtp_identity_generate(&id);
    if (rc == ZHTP_OK)
        rc = zhtp_identity_save(id, out, pass, (size_t)plen, &params, force);
    zhtp_wipe(pass, sizeof pass);
    if (rc == ZHTP_ERR_EXISTS) {
        fprintf(stderr, "zhtp keygen: %s exists; refusing to overwrite (use --force)\n", out);
    } else if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp keygen: %s: %s\n", out, zhtp_strerror(rc));
    } else {
        char hex[2 * ZHTP_NODE_ID_BYTES + 1];
        zhtp_hex_encode(hex, sizeof hex, zhtp_identity_get_public(id)->node_id, ZHTP_NODE_ID_BYTES);
        printf("%s\n", hex);
        fprintf(stderr, "zhtp keygen: identity written to %s\n", out);
        ret = fflush(stdout) == 0 ? ZHTP_EXIT_OK : ZHTP_EXIT_FAIL;
    }
    zhtp_identity_free(id);
    return ret;
}

int cmd_id(int argc, char **argv)
{
    const char *file = NULL, *pass_file = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            id_usage(stdout);
            return ZHTP_EXIT_OK;
        } else if (!strcmp(a, "--passphrase-file")) {
            if (!(pass_file = opt_value(argc, argv, &i)))
                return ZHTP_EXIT_USAGE;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "zhtp id: unknown option '%s'\n\n", a);
            id_usage(stderr);
            return ZHTP_EXIT_USAGE;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "zhtp id: one key file only\n");
            return ZHTP_EXIT_USAGE;
        }
    }
    char defpath[4096];
    if (!file) {
        if (default_path(defpath, sizeof defpath, false) != 0) {
            fprintf(stderr, "zhtp id: no key file given and no default location\n");
            return ZHTP_EXIT_USAGE;
        }
        file = defpath;
    }
    struct stat st;
    if (stat(file, &st) != 0) {
        fprintf(stderr, "zhtp id: %s: %s\n", file, strerror(errno));
        return ZHTP_EXIT_FAIL;
    }
    if (st.st_mode & 077)
        fprintf(stderr, "zhtp id: warning: %s is accessible to others (mode %04o); chmod 600 it\n",
                file, (unsigned)(st.st_mode & 07777));

    char pass[PASS_MAX];
    int plen = get_pass("id", pass_file, false, pass, sizeof pass);
    if (plen < 0)
        return plen == -2 ? ZHTP_EXIT_USAGE : ZHTP_EXIT_FAIL;
    zhtp_identity *id = NULL;
    int rc = zhtp_identity_load(&id, file, pass, (size_t)plen);
    zhtp_wipe(pass, sizeof pass);
    if (rc != ZHTP_OK) {
        fprintf(stderr, "zhtp id: %s: %s\n", file, zhtp_strerror(rc));
        return ZHTP_EXIT_FAIL;
    }
    uint8_t enc[ZHTP_IDENTITY_PUBLIC_BYTES];
    char id_hex[2 * ZHTP_NODE_ID_BYTES + 1], pub_hex[2 * ZHTP_IDENTITY_PUBLIC_BYTES + 1];
    const zhtp_identity_public *pub = zhtp_identity_get_public(id);
    zhtp_identity_public_encode(enc, sizeof enc, pub);
    zhtp_hex_encode(id_hex, sizeof id_hex, pub->node_id, ZHTP_NODE_ID_BYTES);
    zhtp_hex_encode(pub_hex, sizeof pub_hex, enc, sizeof enc);
    zhtp_identity_free(id);
    if (json) {
        /* The path is the only free text: escape what JSON requires. */
        printf("{\"node_id\":\"%s\",\"public_identity\":\"%s\",\"file\":\"", id_hex, pub_hex);
        for (const unsigned char *p = (const unsigned char *)file; *p; p++) {
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if (*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        }
        printf("\"}\n");
    } else {
        printf("node_id          %s\npublic_identity  %s\n", id_hex, pub_hex);
    }
    return fflush(stdout) == 0 ? ZHTP_EXIT_OK : ZHTP_EXIT_FAIL;
}
