/* zhtpd's INI reader and address parser on arbitrary bytes: never crash, never overrun the
 * fixed option arrays, and on success every address it accepted must parse again. The reader
 * takes a path, so each input is written to one scratch file first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[] = "/tmp/zhtpd-config-fuzz-XXXXXX";
    static int fd = -1;
    if (fd < 0 && (fd = mkstemp(path)) < 0)
        abort();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    zhtp_rt_options o;
    char err[512];
    zhtp_rt_options_init(&o);
    if (zhtp_rt_options_load(&o, path, err, sizeof err) == 0) {
        if (o.n_listen > ZHTP_RT_MAX_LISTEN || o.n_peer > ZHTP_RT_MAX_PEERS)
            abort();
        struct sockaddr_storage ss;
        for (size_t i = 0; i < o.n_listen; i++)
            if (zhtp_rt_parse_addr(o.listen[i], &ss) != 0)
                abort(); /* an accepted listen address must parse */
    } else if (strlen(err) == 0) {
        abort(); /* a refusal always says why */
    }

    /* The address parser alone, on the input as a string. */
    char s[128];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    struct sockaddr_storage ss;
    (void)zhtp_rt_parse_addr(s, &ss);
    return 0;
}
