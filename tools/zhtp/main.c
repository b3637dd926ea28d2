/* zhtp: the command line. A thin dispatcher; each subcommand lives in its own cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmds.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"hash", cmd_hash, "BLAKE3 of files, like b3sum (keyed, derive-key, any length)"},
    {"keygen", cmd_keygen, "create a node identity (hybrid ML-DSA-44+Ed25519, ML-KEM-768+X25519)"},
    {"id", cmd_id, "print the public identity and node id of a key file"},
    {"bench", cmd_bench, "measure this machine: zhtp bench crypto [--json]"},
    {"init", cmd_init, "make a wallet the owner of a node's data directory"},
    {"wallet", cmd_wallet, "create a control wallet or show its public key"},
    {"status", cmd_status, "ask the running daemon for its status"},
    {"peers", cmd_peers, "list the daemon's authenticated neighbours"},
    {"admin", cmd_admin, "stop, resume, disconnect, limit, add-admin, remove-admin"},
    {"audit", cmd_audit, "read the control audit log, or verify its hash chain"},
    {"ping", cmd_ping, "round trips to a node over the mesh (node id or mesh IPv6)"},
    {"put", cmd_put, "store a file in the mesh; prints its content id"},
    {"get", cmd_get, "fetch content by id, verified, to stdout or -o FILE"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: zhtp <command> [options]   (zhtp <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nexit codes: 0 success, 1 the operation failed or was refused, 2 bad command line,\n"
            "3 the daemon's control socket is not reachable, 4 get: no node holds the content\n"
            "(docs/cli.md)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ZHTP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return ZHTP_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("zhtp %s\n", ZHTP_VERSION);
        return ZHTP_EXIT_OK;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "zhtp: libsodium failed to initialise\n");
        return ZHTP_EXIT_FAIL;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "zhtp: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return ZHTP_EXIT_USAGE;
}
