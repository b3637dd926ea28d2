/* The control-socket client shared by the node commands (cmd_node.c defines these; cmd_xfer.c
 * uses them): options, the wallet, the connection. */
#ifndef ZHTP_TOOL_CLIENT_H
#define ZHTP_TOOL_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

#include "zhtp/wallet.h"

typedef struct opts {
    const char *control, *data_dir, *wallet, *pass_file, *request_out, *kdf;
    bool json;
    const char *pos[3];
    int n_pos;
} opts;

/* The --help lines of the options every node command takes, and the exit codes. */
extern const char zc_common_help[];

/* Parses the common options and up to max_pos positional arguments. Returns 0, -1 (bad
 * command line, message printed) or -2 (--help printed). */
int zc_parse_opts(const char *cmd, int argc, char **argv, opts *o, int max_pos,
                  void (*usage)(FILE *));
/* Loads the caller's wallet (passphrase from --passphrase-file or the terminal). Returns an
 * exit code. */
int zc_load_wallet(const char *cmd, const opts *o, zhtp_wallet **w);
/* Connects to the daemon's control socket. Returns an exit code (ZHTP_EXIT_UNREACHABLE with a
 * message when it does not answer). */
int zc_connect(const char *cmd, const opts *o, int *fd);

#endif
