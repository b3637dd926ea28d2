/* zhtp hash: BLAKE3 of files, printed like b3sum ("HEX  NAME" per file).
 *
 * Regular files are mapped in 64 MiB windows and each handed to the hasher in one update(),
 * so the SIMD tree code sees whole runs of chunks and the speed is the hash's, not the
 * copying's; pipes and stdin are read 1 MiB at a time. A name containing a newline or backslash is
 * escaped the way b3sum does it: the line starts with '\', and the name shows '\n' and '\\'. Other
 * bytes are printed as they are (b3sum would replace invalid UTF-8; we do not). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zhtp/blake3.h"
#include "zhtp/util.h"

#include "cmds.h"

#define READ_BUF_LEN ((size_t)1 << 20)
#define MAP_WINDOW   ((size_t)64 << 20) /* a multiple of any page size */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zhtp hash [--keyed KEYHEX | --derive-key CONTEXT] [--length N] [--no-names]\n"
            "                 [FILE...]\n"
            "\n"
            "Prints the BLAKE3 hash of each FILE as \"HEX  NAME\", like b3sum. With no FILE, or\n"
            "when FILE is -, reads standard input.\n"
            "\n"
            "  --keyed KEYHEX        keyed hash; KEYHEX is the 32-byte key as 64 hex digits\n"
            "                        (unlike b3sum, which reads the raw key from stdin; note that\n"
            "                        arguments are visible to other local users)\n"
            "  --derive-key CONTEXT  key derivation: CONTEXT is the context string, each FILE\n"
            "                        the key material\n"
            "  -l, --length N        output N bytes (default 32); any length, as a XOF\n"
            "  --no-names            print only the hashes\n"
            "  -h, --help            this text\n"
            "\n"
            "A name containing a newline or backslash is printed escaped (\\n, \\\\) on a line\n"
            "that starts with a backslash, as b3sum does.\n"
            "exit: 0 all files hashed, 1 some file could not be read, 2 bad command line\n");
}

/* Takes the value of an option given as "--opt VALUE" or "--opt=VALUE". Returns NULL (and
 * leaves *i) when arg is not this option; sets *missing when the value is absent. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

static bool parse_length(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return false;
    *out = v;
    return true;
}

static bool needs_escape(const char *name)
{
    return strpbrk(name, "\\\n") != NULL;
}

static void print_escaped(const char *name)
{
    for (const char *p = name; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", stdout);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else
            putchar(*p);
    }
}

/* Writes out_len bytes of the hasher's output as hex, streaming so any length works. */
static void print_hex_output(const zhtp_blake3 *h, uint64_t out_len)
{
    uint8_t out[4096];
    char hex[2 * sizeof out + 1];
    for (uint64_t pos = 0; pos < out_len;) {
        size_t n = out_len - pos < sizeof out ? (size_t)(out_len - pos) : sizeof out;
        zhtp_blake3_final_seek(h, pos, out, n);
        zhtp_hex_encode(hex, sizeof hex, out, n);
        fputs(hex, stdout);
        pos += n;
    }
    zhtp_wipe(out, sizeof out);
    zhtp_wipe(hex, sizeof hex);
}

/* Feeds fd to h with read(); buf is READ_BUF_LEN bytes. Returns 0 or an errno value. */
static int hash_by_reading(zhtp_blake3 *h, int fd, uint8_t *buf)
{
    for (;;) {
        ssize_t n = read(fd, buf, READ_BUF_LEN);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        zhtp_blake3_update(h, buf, (size_t)n);
    }
}

/* Hashes size bytes of a regular file through windows of MAP_WINDOW bytes, each mapped with
 * MAP_POPULATE (one system call instead of a page fault per 16 pages) while the kernel reads
 * ahead the next one. Windows bound the memory held for files larger than RAM, and every
 * window is a whole power-of-two subtree, so the hasher still gets whole runs of chunks.
 * Returns 0, an errno value, or EAGAIN when the first window cannot be mapped (the caller
 * reads the file instead). Later windows that fail continue with read() from there. */
static int hash_mapped(zhtp_blake3 *h, int fd, uint64_t size)
{
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < MAP_WINDOW ? (size_t)(size - off) : MAP_WINDOW;
        void *map = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, (off_t)off);
        if (map == MAP_FAILED) {
            if (off == 0)
                return EAGAIN;
            if (lseek(fd, (off_t)off, SEEK_SET) < 0)
                return errno;
            uint8_t *buf = malloc(READ_BUF_LEN);
            if (buf == NULL)
                return ENOMEM;
            int err = hash_by_reading(h, fd, buf);
            free(buf);
            return err;
        }
        if (off + n < size)
            posix_fadvise(fd, (off_t)(off + n), MAP_WINDOW, POSIX_FADV_WILLNEED);
        zhtp_blake3_update(h, map, n);
        munmap(map, n);
        off += n;
    }
    return 0;
}

/* Hashes one file (path "-" is stdin) into h. Returns 0 or an errno value. A regular file
 * that another process truncates while mapped would raise SIGBUS, as with b3sum's mmap. */
static int hash_one(zhtp_blake3 *h, const char *path, uint8_t **buf)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    int err = 0;
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
        goto out;
    }
    /* Not for stdin: it may be a file already read part-way, and mmap would start at 0. */
    if (!is_stdin && S_ISREG(st.st_mode) && st.st_size > 0) {
        err = hash_mapped(h, fd, (uint64_t)st.st_size);
        if (err != EAGAIN)
            goto out;
        /* Some files (e.g. in /proc or on odd file systems) cannot be mapped: read them. */
        err = 0;
    }
    if (*buf == NULL && (*buf = malloc(READ_BUF_LEN)) == NULL) {
        err = ENOMEM;
        goto out;
    }
    err = hash_by_reading(h, fd, *buf);
out:
    if (!is_stdin)
        close(fd);
    return err;
}

int cmd_hash(int argc, char **argv)
{
    const char *keyhex = NULL, *context = NULL;
    uint64_t out_len = ZHTP_BLAKE3_OUT_LEN;
    bool no_names = false, options_done = false;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int num_files = 0, rc = ZHTP_EXIT_OK;
    uint8_t *buf = NULL;
    zhtp_blake3 base;

    if (files == NULL) {
        fprintf(stderr, "zhtp hash: out of memory\n");
        return ZHTP_EXIT_FAIL;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing = false;
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            files[num_files++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            goto out;
        } else if (strcmp(arg, "--no-names") == 0) {
            no_names = true;
        } else if ((v = option_value(argc, argv, &i, "--keyed", &missing)) != NULL) {
            keyhex = v;
        } else if ((v = option_value(argc, argv, &i, "--derive-key", &missing)) != NULL) {
            context = v;
        } else if ((v = option_value(argc, argv, &i, "--length", &missing)) != NULL ||
                   (!missing && (v = option_value(argc, argv, &i, "-l", &missing)) != NULL)) {
            if (!parse_length(v, &out_len)) {
                fprintf(stderr,
                        "zhtp hash: --length wants a whole number of bytes >= 1, not '%s'\n", v);
                rc = ZHTP_EXIT_USAGE;
                goto out;
            }
        } else {
            if (missing)
                fprintf(stderr, "zhtp hash: %s needs a value\n", arg);
            else
                fprintf(stderr, "zhtp hash: unknown option '%s'\n", arg);
            fprintf(stderr, "try 'zhtp hash --help'\n");
            rc = ZHTP_EXIT_USAGE;
            goto out;
        }
    }
    if (keyhex != NULL && context != NULL) {
        fprintf(stderr, "zhtp hash: --keyed and --derive-key exclude each other\n");
        rc = ZHTP_EXIT_USAGE;
        goto out;
    }
    if (keyhex != NULL) {
        uint8_t key[ZHTP_BLAKE3_KEY_LEN];
        size_t hex_len = strlen(keyhex);
        if (hex_len != 2 * ZHTP_BLAKE3_KEY_LEN ||
            zhtp_hex_decode(key, sizeof key, keyhex, hex_len) != ZHTP_BLAKE3_KEY_LEN) {
            fprintf(stderr,
                    "zhtp hash: --keyed wants exactly 64 hex digits (a 32-byte key), got %zu "
                    "characters%s\n",
                    hex_len, hex_len == 64 ? " that are not all hex digits" : "");
            zhtp_wipe(key, sizeof key);
            rc = ZHTP_EXIT_USAGE;
            goto out;
        }
        zhtp_blake3_init_keyed(&base, key);
        zhtp_wipe(key, sizeof key);
    } else if (context != NULL) {
        zhtp_blake3_init_derive_key(&base, context);
    } else {
        zhtp_blake3_init(&base);
    }
    if (num_files == 0)
        files[num_files++] = "-";

    for (int f = 0; f < num_files; f++) {
        zhtp_blake3 h = base;
        int err = hash_one(&h, files[f], &buf);
        if (err != 0) {
            /* Flush first so the lines of earlier files come before this message. */
            fflush(stdout);
            fprintf(stderr, "zhtp hash: %s: %s\n", files[f], strerror(err));
            rc = ZHTP_EXIT_FAIL;
        } else {
            bool escape = !no_names && needs_escape(files[f]);
            if (escape)
                putchar('\\');
            print_hex_output(&h, out_len);
            if (!no_names) {
                fputs("  ", stdout);
                if (escape)
                    print_escaped(files[f]);
                else
                    fputs(files[f], stdout);
            }
            putchar('\n');
        }
        zhtp_wipe(&h, sizeof h);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "zhtp hash: writing the output failed: %s\n", strerror(errno));
        rc = ZHTP_EXIT_FAIL;
    }
out:
    zhtp_wipe(&base, sizeof base);
    free(buf);
    free(files);
    return rc;
}
