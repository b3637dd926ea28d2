/* zhtpd's HTTP request-head parser (http_request.h). Pure: bytes in, fields out. */
#include "http_request.h"

#include <string.h>

#include "zhtp/err.h"

/* The offset just past the empty line ending the head, or 0 when it has not arrived. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

int zhtp_http_request_parse(zhtp_http_request *req, const char *buf, size_t len)
{
    memset(req, 0, sizeof *req);
    size_t end = head_end(buf, len);
    if (end == 0)
        return ZHTP_ERR_AGAIN;
    if (memchr(buf, '\0', end) != NULL)
        return ZHTP_ERR_INVAL;
    const char *line_end = memchr(buf, '\n', end);
    size_t ll = (size_t)(line_end - buf);
    if (ll > 0 && buf[ll - 1] == '\r')
        ll--;
    const char *sp = memchr(buf, ' ', ll);
    if (sp == NULL || sp == buf)
        return ZHTP_ERR_INVAL;
    size_t ml = (size_t)(sp - buf);
    for (size_t i = 0; i < ml; i++)
        if (buf[i] < 'A' || buf[i] > 'Z')
            return ZHTP_ERR_INVAL;
    const char *t = sp + 1;
    size_t rest = ll - ml - 1;
    const char *sp2 = memchr(t, ' ', rest);
    size_t tl = sp2 != NULL ? (size_t)(sp2 - t) : rest;
    if (sp2 != NULL) {
        /* A version, if given, is HTTP/1.x (HTTP/0.9 has none; later versions are not ours). */
        size_t vl = rest - tl - 1;
        if (vl != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9')
            return ZHTP_ERR_INVAL;
    }
    if (tl == 0 || tl >= ZHTP_HTTP_TARGET_MAX || t[0] != '/')
        return ZHTP_ERR_INVAL;
    for (size_t i = 0; i < tl; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return ZHTP_ERR_INVAL;
    if (ml != 3 || memcmp(buf, "GET", 3) != 0)
        return ZHTP_ERR_UNSUPPORTED; /* well-formed, but this responder only reads */
    const char *q = memchr(t, '?', tl);
    size_t pl = q != NULL ? (size_t)(q - t) : tl;
    memcpy(req->path, t, pl);
    req->path[pl] = '\0';
    if (q != NULL) {
        size_t ql = tl - pl - 1;
        memcpy(req->query, q + 1, ql);
        req->query[ql] = '\0';
        req->has_query = true;
    }
    return ZHTP_OK;
}

bool zhtp_http_query_get(const char *q, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    while (q != NULL && *q) {
        if (strncmp(q, key, kl) == 0 && q[kl] == '=') {
            const char *v = q + kl + 1;
            size_t n = strcspn(v, "&");
            if (n >= cap)
                return false;
            for (size_t i = 0; i < n; i++)
                out[i] = v[i] == '+' ? ' ' : v[i];
            out[n] = '\0';
            return true;
        }
        q = strchr(q, '&');
        if (q)
            q++;
    }
    return false;
}
