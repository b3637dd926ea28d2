/* Basic types shared by every layer: time, node ids.
 *
 * The protocol core never reads a clock: drivers (runtime/, zhtp-sim) pass |now| in, as a
 * zhtp_time, into every call that needs it. */
#ifndef ZHTP_TYPES_H
#define ZHTP_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic nanoseconds since an arbitrary origin chosen by the driver. Never wall time. */
typedef uint64_t zhtp_time;

/* "No deadline": returned by next_deadline functions when nothing is pending. */
#define ZHTP_TIME_NEVER UINT64_MAX

#define ZHTP_NS_PER_MS  UINT64_C(1000000)
#define ZHTP_NS_PER_SEC UINT64_C(1000000000)

/* A node id is BLAKE3 of the node's identity public keys (self-certifying), 256 bits. DHT
 * keys live in the same 256-bit space. */
#define ZHTP_NODE_ID_LEN 32

#ifdef __cplusplus
}
#endif
#endif
