/* Basic types shared by every layer: time, node ids.
 *
 * The protocol core never reads a clock: drivers (runtime/, zhtp-sim) pass |now| in, as a
 * zhtp_time, into every call that needs it. */
#ifndef ZHTP_TYPES_H
#define ZHTP_TYPES_H

#include <stddef.h>
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

/* The driver's name for one of the node's links (a UDP socket, a LoRa modem, one virtual link
 * of the simulator). Opaque to the core. */
typedef uint64_t zhtp_link_id;

/* A link-layer address, opaque to the core (UDP: address + port; sim: a peer index). len 0 is
 * the link's broadcast address (discovery beacons are sent there). */
#define ZHTP_ADDR_MAX 28
typedef struct zhtp_addr {
    uint8_t len;
    uint8_t bytes[ZHTP_ADDR_MAX];
} zhtp_addr;

/* Injected randomness: fills out[0..len). Seeded in tests and the simulator. */
typedef void (*zhtp_rng_fn)(void *user_data, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
