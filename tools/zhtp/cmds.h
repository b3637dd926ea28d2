/* Subcommands of the zhtp command line. Each takes the arguments after its own name
 * (argv[0] is the subcommand name) and returns the process exit code. */
#ifndef ZHTP_TOOL_CMDS_H
#define ZHTP_TOOL_CMDS_H

/* Exit codes, documented in `zhtp --help` and docs/cli.md. */
enum {
    ZHTP_EXIT_OK = 0,
    ZHTP_EXIT_FAIL = 1,        /* the operation failed (verification, I/O, ...) */
    ZHTP_EXIT_USAGE = 2,       /* bad command line */
    ZHTP_EXIT_UNREACHABLE = 3, /* the daemon's control socket did not answer */
    ZHTP_EXIT_NOTFOUND = 4,    /* get: no node holds the content (ZHTP_ERR_DHT_NOT_FOUND) */
};

int cmd_hash(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_init(int argc, char **argv);   /* cmd_node.c */
int cmd_wallet(int argc, char **argv); /* cmd_node.c */
int cmd_status(int argc, char **argv); /* cmd_node.c */
int cmd_peers(int argc, char **argv);  /* cmd_node.c */
int cmd_admin(int argc, char **argv);  /* cmd_node.c */
int cmd_audit(int argc, char **argv);  /* cmd_node.c */
int cmd_ping(int argc, char **argv);   /* cmd_xfer.c */
int cmd_put(int argc, char **argv);    /* cmd_xfer.c */
int cmd_get(int argc, char **argv);    /* cmd_xfer.c */

#endif
