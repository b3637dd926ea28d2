/* zhtpd's control socket on libuv: lines in, zhtp_ctl_dispatch, lines out (control.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "zhtp/audit.h"

enum { CTL_LOG_ERROR = 0, CTL_LOG_WARN = 1, CTL_LOG_INFO = 2 };

typedef struct ctl_client ctl_client;

struct zhtp_rt_ctl {
    uv_pipe_t server;
    bool server_open;
    zhtp_rt_ctl_config cfg;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    zhtp_ctl_verifier *verifier;
    zhtp_ctl_roles *roles;
    zhtp_audit *audit;
    zhtp_ctl_dispatch_config dc;
    size_t n_clients;
    ctl_client *clients; /* every open connection, for zhtp_rt_ctl_send by ticket */
    ctl_client *current; /* the connection whose line is being dispatched, else NULL */
    const zhtp_ctl_request *current_req; /* its verified request, while its handler runs */
    uint64_t next_ticket; /* tickets are never reused: a late send to a gone client fails */
};

struct ctl_client {
    uv_pipe_t pipe; /* first: the handle's address is the client's */
    zhtp_rt_ctl *c;
    size_t len;
    bool closing;
    ctl_client *next;
    /* A deferred (streamed) request: its ticket, and the upload being collected. */
    uint64_t ticket;
    bool ended; /* zhtp_rt_ctl_end was called: no gone callback */
    uint8_t *up;
    size_t up_len, up_need;
    zhtp_rt_ctl_upload_fn up_fn;
    void *up_ud;
    uv_shutdown_t shut;
    char op[ZHTP_CTL_OP_MAX + 1]; /* of the deferred request, for the audit */
    uint8_t caller[ZHTP_AUDIT_CALLER_BYTES];
    char buf[ZHTP_RT_CTL_LINE_MAX];
};

typedef struct ctl_write {
    uv_write_t req;
    char *data;
} ctl_write;

static void ctl_log(zhtp_rt_ctl *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ctl_log(zhtp_rt_ctl *c, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->cfg.log != NULL)
        c->cfg.log(c->cfg.user_data, level, msg);
}

static void client_closed(uv_handle_t *h)
{
    ctl_client *cl = (ctl_client *)h;
    zhtp_rt_ctl *c = cl->c;
    for (ctl_client **p = &c->clients; *p != NULL; p = &(*p)->next)
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    c->n_clients--;
    if (cl->ticket != 0 && !cl->ended && c->cfg.gone != NULL)
        c->cfg.gone(c->cfg.user_data, cl->ticket);
    free(cl->up);
    free(cl);
}

static void client_close(ctl_client *cl)
{
    if (cl->closing)
        return;
    cl->closing = true;
    uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

static void written(uv_write_t *w, int status)
{
    (void)status; /* a client that went away: nothing to do, its read side closes it */
    ctl_write *cw = (ctl_write *)w;
    free(cw->data);
    free(cw);
}

/* Queues data (taken over: freed after the write). */
static void send_owned(ctl_client *cl, char *data, size_t len)
{
    ctl_write *cw = malloc(sizeof *cw);
    if (cw == NULL) {
        free(data);
        client_close(cl);
        return;
    }
    cw->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    if (uv_write(&cw->req, (uv_stream_t *)&cl->pipe, &b, 1, written) != 0) {
        free(data);
        free(cw);
        client_close(cl);
    }
}

static void send_error(ctl_client *cl, int code, const char *reason)
{
    char *s = malloc(256);
    if (s == NULL) {
        client_close(cl);
        return;
    }
    int n = snprintf(s, 256, "{\"ok\":false,\"error\":\"%s\",\"code\":%d,\"reason\":\"%s\"}\n",
                     zhtp_err_name(code), code, reason);
    send_owned(cl, s, (size_t)n);
}

static void handle_line(ctl_client *cl, const char *line, size_t len)
{
    zhtp_rt_ctl *c = cl->c;
    char *resp = malloc(ZHTP_CTL_RESPONSE_MAX);
    if (resp == NULL) {
        send_error(cl, ZHTP_ERR_NOMEM, "daemon out of memory");
        return;
    }
    size_t rlen = 0;
    c->current = cl;
    int rc = zhtp_ctl_dispatch(&c->dc, line, len, (int64_t)time(NULL), resp, ZHTP_CTL_RESPONSE_MAX,
                               &rlen);
    c->current = NULL;
    if (rc != ZHTP_OK && cl->ticket != 0) {
        /* The handler deferred, then the dispatcher failed after it (the response did not
         * fit): the operation has no client. */
        free(cl->up);
        cl->up = NULL;
        cl->up_need = 0;
        if (c->cfg.gone != NULL)
            c->cfg.gone(c->cfg.user_data, cl->ticket);
        cl->ended = true;
    }
    if (rlen == 0) {
        free(resp);
        send_error(cl, rc, "response did not fit");
        return;
    }
    if (rc != ZHTP_OK)
        ctl_log(c, CTL_LOG_INFO, "control request refused or failed: %s", zhtp_err_name(rc));
    send_owned(cl, resp, rlen);
    if (c->cfg.after != NULL)
        c->cfg.after(c->cfg.user_data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    ctl_client *cl = (ctl_client *)h;
    if (cl->up_need > 0) {
        /* Uploads are read straight into their final buffer, in pieces of at most 1 MiB. */
        size_t left = cl->up_need - cl->up_len;
        *buf = uv_buf_init((char *)cl->up + cl->up_len,
                           (unsigned)(left < (1u << 20) ? left : (1u << 20)));
        return;
    }
    *buf = uv_buf_init(cl->buf + cl->len, (unsigned)(sizeof cl->buf - cl->len));
}

/* Appends n uploaded bytes; hands the buffer over when complete. */
static void upload_add(ctl_client *cl, const void *data, size_t n)
{
    size_t left = cl->up_need - cl->up_len;
    if (n > left)
        n = left; /* a client that sends more than it announced: the excess is dropped */
    if (data != NULL)
        memcpy(cl->up + cl->up_len, data, n);
    cl->up_len += n;
    if (cl->up_len < cl->up_need)
        return;
    uint8_t *bytes = cl->up;
    size_t len = cl->up_len;
    cl->up = NULL;
    cl->up_len = cl->up_need = 0;
    cl->up_fn(cl->up_ud, cl->ticket, bytes, len);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    ctl_client *cl = (ctl_client *)st;
    if (n < 0) {
        client_close(cl);
        return;
    }
    if (cl->closing)
        return;
    if (cl->up_need > 0) {
        upload_add(cl, NULL, (size_t)n); /* read in place by on_alloc */
        return;
    }
    if (cl->ticket != 0)
        return; /* a streamed request's connection carries nothing more from the client */
    cl->len += (size_t)n;
    size_t start = 0;
    for (size_t i = cl->len - (size_t)n; i < cl->len; i++) {
        if (cl->buf[i] != '\n')
            continue;
        if (i > start)
            handle_line(cl, cl->buf + start, i + 1 - start);
        start = i + 1;
        if (cl->ticket != 0) {
            /* Deferred: what follows the line is the upload (if any), never another line. */
            if (cl->up_need > 0 && cl->len > start)
                upload_add(cl, cl->buf + start, cl->len - start);
            cl->len = 0;
            return;
        }
    }
    memmove(cl->buf, cl->buf + start, cl->len - start);
    cl->len -= start;
    if (cl->len == sizeof cl->buf) {
        /* A line this long is no request (they are ~8 KB): refuse and drop the connection
         * rather than resynchronise on a stream that is not speaking the protocol. */
        ctl_log(cl->c, CTL_LOG_WARN, "control client sent a line over %d bytes: closed",
                ZHTP_RT_CTL_LINE_MAX);
        send_error(cl, ZHTP_ERR_SEC_TOO_LARGE, "request line too long");
        uv_read_stop(st);
        client_close(cl);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    zhtp_rt_ctl *c = srv->data;
    if (status < 0)
        return;
    ctl_client *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return;
    cl->c = c;
    uv_pipe_init(c->cfg.loop, &cl->pipe, 0);
    c->n_clients++;
    cl->next = c->clients;
    c->clients = cl;
    if (uv_accept(srv, (uv_stream_t *)&cl->pipe) != 0) {
        client_close(cl);
        return;
    }
    if (c->n_clients > ZHTP_RT_CTL_CLIENTS_MAX) {
        send_error(cl, ZHTP_ERR_SESSION_LIMIT, "too many control connections");
        client_close(cl);
        return;
    }
    if (uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0)
        client_close(cl);
}

/* A socket file left by a daemon that died is removed; one that answers belongs to a live
 * daemon on the same data directory, which is a configuration error. */
static int clear_stale(const char *path, char *err, size_t cap)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, cap, "control %s: exists and is not a socket", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (live) {
            snprintf(err, cap, "control %s: another daemon is listening there", path);
            return -1;
        }
    }
    unlink(path);
    return 0;
}

static zhtp_ssize run_handler(void *ud, const zhtp_ctl_request *req, zhtp_ctl_level level,
                              char *result, size_t cap)
{
    zhtp_rt_ctl *c = ud;
    zhtp_ctl_op op = zhtp_ctl_op_from_name(req->op);
    if (op == ZHTP_CTL_OP_COUNT || c->cfg.handlers[op] == NULL)
        return ZHTP_ERR_UNSUPPORTED; /* the dispatcher resolved it already: not reached */
    c->current_req = req;
    zhtp_ssize rc = c->cfg.handlers[op](c->cfg.user_data, req, level, result, cap);
    c->current_req = NULL;
    return rc;
}

static int open_store_dir(char *out, size_t cap, const char *data_dir, const char *sub)
{
    if ((size_t)snprintf(out, cap, "%s/%s", data_dir, sub) >= cap)
        return -1;
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int zhtp_rt_ctl_open(zhtp_rt_ctl **out, const zhtp_rt_ctl_config *cfg, char *err, size_t cap)
{
    *out = NULL;
    zhtp_rt_ctl *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, cap, "control: out of memory");
        return -1;
    }
    c->cfg = *cfg;
    char dir[1024];
    int rc;
    if (strlen(cfg->path) >= sizeof c->path) {
        snprintf(err, cap, "control %s: path longer than %zu bytes", cfg->path, sizeof c->path - 1);
        goto fail;
    }
    strcpy(c->path, cfg->path);
    if (open_store_dir(dir, sizeof dir, cfg->data_dir, ZHTP_RT_CTL_POLICY_SUBDIR) != 0 ||
        (rc = zhtp_ctl_roles_open(&c->roles, dir)) != ZHTP_OK) {
        snprintf(err, cap, "control: policy store %s: cannot open", dir);
        goto fail;
    }
    if (open_store_dir(dir, sizeof dir, cfg->data_dir, ZHTP_RT_CTL_AUDIT_SUBDIR) != 0 ||
        (rc = zhtp_audit_open(&c->audit, dir)) != ZHTP_OK) {
        snprintf(err, cap, "control: audit log %s: cannot open", dir);
        goto fail;
    }
    zhtp_ctl_verifier_config vc = {0};
    if ((rc = zhtp_ctl_verifier_new(&c->verifier, &vc)) != ZHTP_OK) {
        snprintf(err, cap, "control: verifier: %s", zhtp_strerror(rc));
        goto fail;
    }
    c->dc.verifier = c->verifier;
    c->dc.roles = c->roles;
    c->dc.audit = c->audit;
    /* Handlers run through a trampoline that lets zhtp_rt_ctl_defer see the request. */
    for (int i = 0; i < ZHTP_CTL_OP_COUNT; i++)
        c->dc.handlers[i] = cfg->handlers[i] != NULL ? run_handler : NULL;
    c->dc.user_data = c;
    if (clear_stale(c->path, err, cap) != 0)
        goto fail;
    uv_pipe_init(cfg->loop, &c->server, 0);
    c->server.data = c;
    c->server_open = true;
    /* The file is created with mode 0660 from the start (umask), not chmod-ed after: no window
     * in which another local user could connect. */
    mode_t old = umask(0117);
    rc = uv_pipe_bind(&c->server, c->path);
    umask(old);
    if (rc == 0 && chmod(c->path, 0660) != 0)
        rc = uv_translate_sys_error(errno);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&c->server, 16, on_connection);
    if (rc != 0) {
        snprintf(err, cap, "control %s: %s", c->path, uv_strerror(rc));
        *out = c; /* the server handle is live: the caller's close walk and free clean up */
        return -1;
    }
    *out = c;
    return 0;
fail:
    zhtp_rt_ctl_free(c);
    return -1;
}

bool zhtp_rt_ctl_stopped(zhtp_rt_ctl *c)
{
    return zhtp_ctl_roles_is_stopped(c->roles);
}

uint32_t zhtp_rt_ctl_limit(zhtp_rt_ctl *c)
{
    return zhtp_ctl_roles_limit(c->roles);
}

uint64_t zhtp_rt_ctl_defer(zhtp_rt_ctl *c, size_t upload_len, zhtp_rt_ctl_upload_fn upload,
                           void *upload_user_data)
{
    ctl_client *cl = c != NULL ? c->current : NULL;
    if (cl == NULL || cl->ticket != 0 || (upload_len > 0 && upload == NULL) ||
        c->current_req == NULL)
        return 0;
    snprintf(cl->op, sizeof cl->op, "%s", c->current_req->op);
    memcpy(cl->caller, c->current_req->wallet_id, sizeof cl->caller);
    if (upload_len > 0) {
        cl->up = malloc(upload_len);
        if (cl->up == NULL)
            return 0;
        cl->up_need = upload_len;
        cl->up_len = 0;
        cl->up_fn = upload;
        cl->up_ud = upload_user_data;
    }
    cl->ticket = ++c->next_ticket;
    return cl->ticket;
}

static ctl_client *by_ticket(zhtp_rt_ctl *c, uint64_t ticket)
{
    for (ctl_client *cl = c->clients; ticket != 0 && cl != NULL; cl = cl->next)
        if (cl->ticket == ticket && !cl->closing && !cl->ended)
            return cl;
    return NULL;
}

bool zhtp_rt_ctl_send_owned(zhtp_rt_ctl *c, uint64_t ticket, void *data, size_t len)
{
    ctl_client *cl = by_ticket(c, ticket);
    if (cl == NULL) {
        free(data);
        return false;
    }
    send_owned(cl, data, len);
    return !cl->closing;
}

bool zhtp_rt_ctl_send(zhtp_rt_ctl *c, uint64_t ticket, const void *data, size_t len)
{
    if (by_ticket(c, ticket) == NULL)
        return false;
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return false;
    memcpy(copy, data, len);
    return zhtp_rt_ctl_send_owned(c, ticket, copy, len);
}

static void shut_done(uv_shutdown_t *req, int status)
{
    (void)status;
    client_close(req->data);
}

void zhtp_rt_ctl_audit_failure(zhtp_rt_ctl *c, uint64_t ticket, int code, const char *reason)
{
    ctl_client *cl = by_ticket(c, ticket);
    if (cl == NULL)
        return;
    if (zhtp_audit_append(c->audit, (int64_t)time(NULL), cl->op, cl->caller, false, code, reason,
                          NULL) != ZHTP_OK)
        ctl_log(c, CTL_LOG_WARN, "audit log: cannot record the failure of %s", cl->op);
}

void zhtp_rt_ctl_end(zhtp_rt_ctl *c, uint64_t ticket)
{
    ctl_client *cl = by_ticket(c, ticket);
    if (cl == NULL)
        return;
    cl->ended = true;
    /* A shutdown completes after every queued write: the last line is not cut off. */
    cl->shut.data = cl;
    if (uv_shutdown(&cl->shut, (uv_stream_t *)&cl->pipe, shut_done) != 0)
        client_close(cl);
}

/* The runtime opens no other pipe, so every UV_NAMED_PIPE handle on the loop is ours. */
bool zhtp_rt_ctl_owns(const uv_handle_t *h)
{
    return h->type == UV_NAMED_PIPE;
}

void zhtp_rt_ctl_close_handle(uv_handle_t *h)
{
    if (uv_is_closing(h))
        return;
    zhtp_rt_ctl *c = h->data;
    if (c != NULL && h == (uv_handle_t *)&c->server) {
        uv_close(h, NULL);
        return;
    }
    client_close((ctl_client *)h);
}

void zhtp_rt_ctl_free(zhtp_rt_ctl *c)
{
    if (c == NULL)
        return;
    if (c->server_open)
        unlink(c->path);
    zhtp_ctl_verifier_free(c->verifier);
    zhtp_audit_close(c->audit);
    zhtp_ctl_roles_close(c->roles);
    free(c);
}
