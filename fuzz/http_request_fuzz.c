/* zhtpd's HTTP request-head parser on arbitrary bytes: never crash or overrun; on success the
 * path starts with '/', path and query are NUL-terminated, within bounds and visible ASCII, and
 * the query lookup stays within its output buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_request.h"
#include "zhtp/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void visible(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort(); /* not terminated */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan catches a read past the input. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    zhtp_http_request req;
    int rc = zhtp_http_request_parse(&req, buf, size);
    if (rc == ZHTP_OK) {
        if (req.path[0] != '/')
            abort();
        visible(req.path, sizeof req.path);
        visible(req.query, sizeof req.query);
        if (strlen(req.path) + strlen(req.query) + (req.has_query ? 1 : 0) >= ZHTP_HTTP_TARGET_MAX)
            abort();
        static const char *const keys[] = {"to", "msg", "id", "coords", ""};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char out[16];
            if (zhtp_http_query_get(req.query, keys[k], out, sizeof out) &&
                strnlen(out, sizeof out) == sizeof out)
                abort();
        }
    } else if (rc != ZHTP_ERR_AGAIN && rc != ZHTP_ERR_INVAL && rc != ZHTP_ERR_UNSUPPORTED) {
        abort();
    } else if (req.path[0] != '\0' || req.has_query) {
        abort(); /* zeroed on error */
    }
    free(buf);
    return 0;
}
