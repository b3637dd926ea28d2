/* zhtpd's control socket: a Unix domain stream socket carrying JSON lines (docs/security.md).
 *
 * This file only moves lines: each complete line read from a client goes to zhtp_ctl_dispatch
 * (verify, policy, audit, role-table change, handler) and the response line goes back. The
 * role table and the audit log live in DATA_DIR/policy and DATA_DIR/audit (two LMDB
 * environments, opened here). The handlers that touch the node are the runtime's. */
#ifndef ZHTP_RT_CONTROL_H
#define ZHTP_RT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "zhtp/security.h"

#define ZHTP_RT_CTL_LINE_MAX    65536 /* bytes buffered per line; longer: error line, close */
#define ZHTP_RT_CTL_CLIENTS_MAX 16    /* concurrent connections; more are refused */

typedef struct zhtp_rt_ctl zhtp_rt_ctl;
typedef void (*zhtp_rt_ctl_log_fn)(void *user_data, int level, const char *msg);

typedef struct zhtp_rt_ctl_config {
    uv_loop_t *loop;
    const char *path;     /* socket file */
    const char *data_dir; /* policy/ and audit/ are created inside */
    zhtp_ctl_handler_fn handlers[ZHTP_CTL_OP_COUNT];
    void *user_data; /* for handlers and log */
    zhtp_rt_ctl_log_fn log;
} zhtp_rt_ctl_config;

/* Opens the stores and listens. Returns 0, or -1 with a message in err. */
int zhtp_rt_ctl_open(zhtp_rt_ctl **out, const zhtp_rt_ctl_config *cfg, char *err, size_t cap);
/* The persisted emergency-stop flag and connection limit. */
bool zhtp_rt_ctl_stopped(zhtp_rt_ctl *c);
uint32_t zhtp_rt_ctl_limit(zhtp_rt_ctl *c);
/* True for a handle owned by the control socket; close it with zhtp_rt_ctl_close_handle (its
 * memory is freed in the close callback). */
bool zhtp_rt_ctl_owns(const uv_handle_t *h);
void zhtp_rt_ctl_close_handle(uv_handle_t *h);
/* After the loop has run the close callbacks: closes the stores, removes the socket file. */
void zhtp_rt_ctl_free(zhtp_rt_ctl *c);

/* Layout of the stores under a data directory (also used by `zhtp init` / `zhtp audit`). */
#define ZHTP_RT_CTL_POLICY_SUBDIR "policy"
#define ZHTP_RT_CTL_AUDIT_SUBDIR  "audit"
#define ZHTP_RT_CTL_SOCKET_NAME   "control.sock"

#endif
