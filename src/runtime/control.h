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
/* A deferred request's upload is complete (user_data: as given to zhtp_rt_ctl_defer): |bytes|
 * (malloc'd, |len| bytes) now belongs to the callee, which frees it. */
typedef void (*zhtp_rt_ctl_upload_fn)(void *user_data, uint64_t ticket, uint8_t *bytes, size_t len);
/* The client of a deferred request went away (or was closed) before zhtp_rt_ctl_end. */
typedef void (*zhtp_rt_ctl_gone_fn)(void *user_data, uint64_t ticket);

typedef struct zhtp_rt_ctl_config {
    uv_loop_t *loop;
    const char *path;     /* socket file */
    const char *data_dir; /* policy/ and audit/ are created inside */
    zhtp_ctl_handler_fn handlers[ZHTP_CTL_OP_COUNT];
    void *user_data; /* for handlers and log */
    zhtp_rt_ctl_log_fn log;
    zhtp_rt_ctl_gone_fn gone; /* may be NULL */
    /* Called after each request's response line was queued (may be NULL): the runtime drives
     * the node there, so that what a handler started can complete only after that line. */
    void (*after)(void *user_data);
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
/* Long operations (put, get, ping: docs/security.md "Streamed operations"). Called by a
 * handler, during the handler only: the connection of the request being handled stays open
 * after the dispatcher's response line, for further lines the runtime sends with
 * zhtp_rt_ctl_send until zhtp_rt_ctl_end. With upload_len > 0 the client then sends exactly
 * upload_len raw bytes, collected here and handed to upload (taken over) once complete.
 * Returns the ticket that names the connection (never 0), or 0 when called outside a
 * handler, or the upload buffer cannot be allocated. */
uint64_t zhtp_rt_ctl_defer(zhtp_rt_ctl *c, size_t upload_len, zhtp_rt_ctl_upload_fn upload,
                           void *upload_user_data);
/* The deferred operation of |ticket| failed after its request was allowed: appends the second
 * audit entry the dispatcher writes for a failed action (docs/security.md §5), naming the
 * request's op and caller (remembered at the request line) with |code| and |reason|. */
void zhtp_rt_ctl_audit_failure(zhtp_rt_ctl *c, uint64_t ticket, int code, const char *reason);
/* Queues bytes (a JSON line, or raw data announced by one) to the connection of |ticket|;
 * copied. Returns false when that client is gone. */
bool zhtp_rt_ctl_send(zhtp_rt_ctl *c, uint64_t ticket, const void *data, size_t len);
/* Like zhtp_rt_ctl_send but takes over |data| (malloc'd; freed after the write): no copy of
 * a large download. */
bool zhtp_rt_ctl_send_owned(zhtp_rt_ctl *c, uint64_t ticket, void *data, size_t len);
/* Closes the connection of |ticket| after what was queued is written. No gone callback. */
void zhtp_rt_ctl_end(zhtp_rt_ctl *c, uint64_t ticket);

/* After the loop has run the close callbacks: closes the stores, removes the socket file. */
void zhtp_rt_ctl_free(zhtp_rt_ctl *c);

/* Layout of the stores under a data directory (also used by `zhtp init` / `zhtp audit`). */
#define ZHTP_RT_CTL_POLICY_SUBDIR "policy"
#define ZHTP_RT_CTL_AUDIT_SUBDIR  "audit"
#define ZHTP_RT_CTL_SOCKET_NAME   "control.sock"

#endif
