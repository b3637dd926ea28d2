/* Helpers shared by the UDP tests on real loopback sockets (udp_batch_test, udp_rx_test). */
#ifndef ZHTP_TEST_UDP_LOOPBACK_H
#define ZHTP_TEST_UDP_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Older libc headers lack the UDP offload options; the values are the kernel's ABI. */
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

/* A UDP socket of |family| (|type_flags| e.g. SOCK_NONBLOCK) bound to the loopback address on a
 * port the kernel picks; |ss|/|sl| receive that address. The fd, or -1. */
static inline int zt_udp_loopback(int family, int type_flags, struct sockaddr_storage *ss,
                                  socklen_t *sl)
{
    int fd = socket(family, SOCK_DGRAM | type_flags, 0);
    if (fd < 0)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        *sl = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)ss, *sl) != 0 || getsockname(fd, (struct sockaddr *)ss, sl)) {
        close(fd);
        return -1;
    }
    return fd;
}

#endif
