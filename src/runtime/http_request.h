/* The request head of zhtpd's HTTP/1.0 status responder: a pure parser (no I/O, no
 * allocation), fuzzed by fuzz/http_request_fuzz.c. The responder (runtime.c) buffers bytes
 * from a connection and asks this whether a complete, acceptable request has arrived.
 *
 * Accepted: "GET SP target [SP HTTP/1.x] CRLF ... CRLF CRLF" (LF alone also ends a line), the
 * target starting with '/' and made of visible ASCII (0x21..0x7e), at most
 * ZHTP_HTTP_TARGET_MAX - 1 bytes. Header lines are not interpreted. */
#ifndef ZHTP_RT_HTTP_REQUEST_H
#define ZHTP_RT_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define ZHTP_HTTP_TARGET_MAX 1024

typedef struct zhtp_http_request {
    char path[ZHTP_HTTP_TARGET_MAX];  /* up to '?', NUL-terminated */
    char query[ZHTP_HTTP_TARGET_MAX]; /* after '?', "" when none */
    bool has_query;
} zhtp_http_request;

/* Parses buf[0..len) (untrusted, may hold NULs). Returns ZHTP_OK (req filled),
 * ZHTP_ERR_AGAIN (the head has not ended yet: read more), ZHTP_ERR_INVAL (malformed: bad
 * request line, target not starting with '/', a byte outside 0x21..0x7e in it, too long, a NUL
 * before the end of the head) or ZHTP_ERR_UNSUPPORTED (a method other than GET). On an error
 * req is zeroed. */
int zhtp_http_request_parse(zhtp_http_request *req, const char *buf, size_t len);

/* The value of |key| in a query "a=1&b=2", with '+' turned into ' ' (no %-decoding), copied to
 * out (cap bytes, NUL-terminated). False when key is absent or its value does not fit. */
bool zhtp_http_query_get(const char *query, const char *key, char *out, size_t cap);

#endif
