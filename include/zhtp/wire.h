/* wire/: the zhtp packet format as pure codecs (docs/protocol.md is the normative text).
 *
 * Owns: the fixed 128-byte header, the payload of every operation, the compressed header
 * for narrow links, the fragment header, and reassembly of fragments into packets.
 * Must never: do I/O, read a clock, use crypto, hold a global, or allocate except through
 * an injected zhtp_mem. Every decoder is a pure function over (const uint8_t *, size_t) that
 * checks every length, enum, count and reserved bit before it uses them; every encoder
 * writes into caller space (buf, cap) and returns the length, or ZHTP_ERR_NOBUF having
 * written nothing.
 *
 * Byte order on the wire is network order (big-endian) everywhere.
 *
 * Borrowing: decoded structs point into the input buffer for their variable-length parts
 * (values, keys lists, blobs). Those pointers are valid exactly as long as the caller keeps
 * that input buffer alive and unchanged; nothing is copied and nothing needs freeing. */
#ifndef ZHTP_WIRE_H
#define ZHTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"
#include "zhtp/mem.h"
#include "zhtp/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Constants and limits (docs/protocol.md "Limits")
 * ------------------------------------------------------------------------------------- */

#define ZHTP_WIRE_MAGIC               UINT32_C(0x5A485450) /* "ZHTP" */
#define ZHTP_WIRE_VERSION             1                    /* the version this code speaks */
#define ZHTP_WIRE_VERSION_NEGOTIATION 0 /* version byte of VERSION_MISMATCH replies only */
#define ZHTP_WIRE_HEADER_LEN          128
#define ZHTP_WIRE_TAG_LEN             16     /* AEAD tag after the payload of a SEALED packet */
#define ZHTP_WIRE_MAX_PAYLOAD         262144 /* 256 KiB */
#define ZHTP_WIRE_MAX_PACKET          (ZHTP_WIRE_HEADER_LEN + ZHTP_WIRE_MAX_PAYLOAD + ZHTP_WIRE_TAG_LEN)
#define ZHTP_WIRE_MAX_PEERS           32   /* node ids in one NODES answer (QUERY_RESPONSE) */
#define ZHTP_WIRE_MAX_VERSIONS        32   /* versions in a list */
#define ZHTP_WIRE_MAX_IDENTITY        8192 /* identity blob in PEER_DISCOVERY / handshakes */
#define ZHTP_WIRE_MAX_MAC             64   /* handshake mac field */
#define ZHTP_WIRE_MAX_COOKIE          64   /* COOKIE_REPLY cookie field */
#define ZHTP_WIRE_MAX_NONCE           32   /* COOKIE_REPLY nonce field */
#define ZHTP_WIRE_MAX_ROUTING_TLV     32   /* TLVs in one ROUTING payload */
#define ZHTP_WIRE_MAX_RECEIPTS        256  /* entries in one RECEIPT batch */
#define ZHTP_WIRE_MAX_SIGNATURE       4096 /* RECEIPT batch signature */
#define ZHTP_WIRE_MAX_ERROR_DETAIL    256  /* ERROR detail text */
#define ZHTP_WIRE_DEFAULT_HOP_LIMIT   64
#define ZHTP_WIRE_ROUTE_BOUND_NONE    UINT32_MAX
#define ZHTP_WIRE_RECEIPT_ENTRY_LEN   48

/* Flags (16 bits). Every other bit is reserved and must be zero. */
#define ZHTP_WIRE_FLAG_SEALED            UINT16_C(0x0001) /* AEAD ciphertext + 16-byte tag */
#define ZHTP_WIRE_FLAG_RECEIPT_REQUESTED UINT16_C(0x0002)
#define ZHTP_WIRE_FLAG_TARGET_IS_KEY     UINT16_C(0x0004) /* target is a DHT key, not a node */
/* The payload starts with a locator block (zhtp_wire_locators_*): the origin's and the
 * destination's tree coordinates, so forwarders route without a lookup (docs/protocol.md 3.4). */
#define ZHTP_WIRE_FLAG_LOCATORS UINT16_C(0x0008)
/* Only with SEALED: the last clear_len bytes of the payload are not encrypted by this AEAD
 * (they are an inner packet already sealed end to end; its tag is bound into the associated
 * data instead). clear_len travels in header bytes 112..115 (docs/protocol.md 3.1, 3.2). */
#define ZHTP_WIRE_FLAG_CLEAR_TAIL UINT16_C(0x0010)
#define ZHTP_WIRE_FLAGS_KNOWN     UINT16_C(0x001F)
/* The smallest clear tail: it must hold at least the inner packet's 16-byte AEAD tag. */
#define ZHTP_WIRE_CLEAR_TAIL_MIN ZHTP_WIRE_TAG_LEN

/* Operations: a numbered registry. 0 and 15..255 are unassigned and rejected. */
enum zhtp_wire_op {
    ZHTP_WIRE_OP_QUERY = 1,
    ZHTP_WIRE_OP_QUERY_RESPONSE = 2,
    ZHTP_WIRE_OP_STORE = 3,
    ZHTP_WIRE_OP_STORE_ACK = 4,
    ZHTP_WIRE_OP_PEER_DISCOVERY = 5,
    ZHTP_WIRE_OP_RELAY_QUERY = 6,
    ZHTP_WIRE_OP_RELAY_RESPONSE = 7,
    ZHTP_WIRE_OP_HANDSHAKE_INIT = 8,
    ZHTP_WIRE_OP_HANDSHAKE_RESPONSE = 9,
    ZHTP_WIRE_OP_COOKIE_REPLY = 10,
    ZHTP_WIRE_OP_DATA = 11,
    ZHTP_WIRE_OP_ROUTING = 12,
    ZHTP_WIRE_OP_RECEIPT = 13,
    ZHTP_WIRE_OP_ERROR = 14,
    ZHTP_WIRE_OP_MAX_ = 14
};

/* A borrowed byte range (see "Borrowing" above). */
typedef struct zhtp_wire_bytes {
    const uint8_t *ptr;
    size_t len;
} zhtp_wire_bytes;

/* ---------------------------------------------------------------------------------------
 * Header (src/wire/header.c)
 * ------------------------------------------------------------------------------------- */

/* The decoded 128-byte header. magic, header_len and the reserved bytes are implied. */
typedef struct zhtp_wire_header {
    uint8_t version;   /* ZHTP_WIRE_VERSION, or 0 for a VERSION_MISMATCH reply */
    uint8_t operation; /* enum zhtp_wire_op */
    uint16_t flags;    /* ZHTP_WIRE_FLAG_* */
    uint8_t hop_count; /* hops taken so far; <= hop_limit */
    uint8_t hop_limit; /* >= 1 */
    /* Loop-freedom bound of tree routing (docs/routing.md): the origin sends
     * ZHTP_WIRE_ROUTE_BOUND_NONE; each forwarder lowers it. A zeroed header has bound 0,
     * which no forwarder can meet: set it. */
    uint32_t route_bound;
    uint32_t payload_len; /* bytes between header and tag; <= ZHTP_WIRE_MAX_PAYLOAD */
    uint8_t sender[ZHTP_NODE_ID_LEN];
    uint8_t target[ZHTP_NODE_ID_LEN]; /* node id, or DHT key with FLAG_TARGET_IS_KEY */
    uint64_t message_id;
    uint64_t timestamp_ms;   /* sender's wall clock, ms since the Unix epoch; 0 = absent */
    uint32_t receiver_index; /* session index at the receiver; 0 iff not SEALED */
    uint64_t counter;        /* AEAD nonce; 0 if not SEALED */
    /* FLAG_CLEAR_TAIL: bytes at the end of the payload left in clear by the link AEAD,
     * ZHTP_WIRE_CLEAR_TAIL_MIN..payload_len; 0 without the flag. */
    uint32_t clear_len;
} zhtp_wire_header;

/* Writes the 128-byte header. Returns 128, ZHTP_ERR_NOBUF (nothing written) or the error
 * zhtp_wire_header_check gives for h. */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_header_encode(uint8_t *out, size_t cap,
                                                  const zhtp_wire_header *h);

/* Checks a header struct against every rule of the header section (what decode enforces).
 * Returns 0, ZHTP_ERR_WIRE_VERSION, _OPERATION, _RESERVED (unknown flag), _FIELD (hops,
 * session fields, version 0 misuse, CLEAR_TAIL without SEALED, clear_len out of range or
 * set without the flag) or _LENGTH (payload_len). */
ZHTP_NODISCARD int zhtp_wire_header_check(const zhtp_wire_header *h);

/* Decodes the first 128 bytes of in. in_len may exceed 128 (the payload follows).
 * Returns 0, ZHTP_ERR_WIRE_TRUNCATED (in_len < 128), _MAGIC, _VERSION (checked right after
 * magic, before anything else: answer with zhtp_wire_version_mismatch_build), _LENGTH
 * (header_len != 128 or payload_len too big), _OPERATION, _RESERVED, _FIELD.
 * On error *h is unspecified. */
ZHTP_NODISCARD int zhtp_wire_header_decode(zhtp_wire_header *h, const uint8_t *in, size_t in_len);

/* A whole packet: header, payload and (if SEALED) tag, all borrowed from the input. */
typedef struct zhtp_wire_packet {
    zhtp_wire_header hdr;
    zhtp_wire_bytes payload; /* ciphertext if SEALED */
    const uint8_t *tag;      /* ZHTP_WIRE_TAG_LEN bytes, or NULL if not SEALED */
} zhtp_wire_packet;

/* Decodes a full (uncompressed) packet whose length must be exactly
 * 128 + payload_len (+ 16 if SEALED). Errors as header_decode, plus ZHTP_ERR_WIRE_TRUNCATED
 * (shorter) or ZHTP_ERR_WIRE_LENGTH (longer). */
ZHTP_NODISCARD int zhtp_wire_packet_decode(zhtp_wire_packet *p, const uint8_t *in, size_t in_len);

/* Total on-wire length of a full packet with this header: 128 + payload_len (+16). */
size_t zhtp_wire_packet_len(const zhtp_wire_header *h);

/* ---------------------------------------------------------------------------------------
 * Version negotiation (src/wire/version.c)
 * ------------------------------------------------------------------------------------- */

/* Builds the ERROR/VERSION_MISMATCH reply (header version 0, unsealed) to a packet |in|
 * whose magic is right but whose version byte we do not speak. Only the version-invariant
 * bytes of |in| (magic, version) are read. |versions|: our supported versions, strictly
 * descending, non-zero, 1..ZHTP_WIRE_MAX_VERSIONS of them. Returns the reply length;
 * ZHTP_ERR_INVAL if |in| has no magic, is version 0 (never answer a negotiation packet) or
 * is a version we list; ZHTP_ERR_WIRE_TRUNCATED if |in| is shorter than the reply would be
 * (anti-amplification: send nothing); ZHTP_ERR_NOBUF. */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_version_mismatch_build(uint8_t *out, size_t cap,
                                                           const uint8_t *in, size_t in_len,
                                                           const uint8_t local_id[ZHTP_NODE_ID_LEN],
                                                           uint64_t message_id,
                                                           const uint8_t *versions,
                                                           size_t n_versions);

/* Picks the version to speak: the highest version in both lists. Lists need not be sorted.
 * Returns the version (1..255) or ZHTP_ERR_WIRE_VERSION when there is none in common. */
ZHTP_NODISCARD int zhtp_wire_version_pick(const uint8_t *ours, size_t n_ours, const uint8_t *theirs,
                                          size_t n_theirs);

/* ---------------------------------------------------------------------------------------
 * Payloads (src/wire/payload.c) — plaintext layouts, one struct per operation
 * ------------------------------------------------------------------------------------- */

/* QUERY, QUERY_RESPONSE, STORE, STORE_ACK, RELAY_QUERY, RELAY_RESPONSE: the payload is one
 * DHT message (docs/protocol.md 6.1-6.7; codec: core/dht_codec.c). The wire layer checks its
 * framing only: at least the 10-byte DHT header, a message type that this operation carries
 * (zhtp_wire_dht_op), the flags byte 0 except bit 0 on NODES; the DHT decodes the rest. */
#define ZHTP_WIRE_DHT_HEADER_LEN 10
typedef struct zhtp_wire_dht {
    zhtp_wire_bytes msg; /* the whole DHT message, type byte first; borrowed */
} zhtp_wire_dht;
/* The operation that carries DHT message type |type| (1..12), or 0 for an unknown type. */
uint8_t zhtp_wire_dht_op(uint8_t type);

enum zhtp_wire_discovery_kind { ZHTP_WIRE_DISCOVERY_BEACON = 1, ZHTP_WIRE_DISCOVERY_SOLICIT = 2 };

typedef struct zhtp_wire_peer_discovery {
    uint8_t kind;             /* enum zhtp_wire_discovery_kind */
    uint32_t capabilities;    /* ZHTP_WIRE_CAP_*; unknown bits are ignored, not rejected */
    uint8_t version_count;    /* 1..ZHTP_WIRE_MAX_VERSIONS */
    const uint8_t *versions;  /* strictly descending, non-zero; borrowed */
    zhtp_wire_bytes identity; /* 0..ZHTP_WIRE_MAX_IDENTITY; contents: Sessions section */
} zhtp_wire_peer_discovery;

#define ZHTP_WIRE_CAP_GATEWAY UINT32_C(0x1)
#define ZHTP_WIRE_CAP_STORAGE UINT32_C(0x2)
#define ZHTP_WIRE_CAP_RELAY   UINT32_C(0x4)

/* The three handshake operations share one framing: fixed indices and suite, then length-
 * prefixed fields whose cryptographic contents the Sessions section defines.
 *   HANDSHAKE_INIT:     sender_index; field[0] ephemeral (hybrid KEM public key, 1216 B for
 *                       suite 1), field[1] identity proof, field[2] mac.
 *   HANDSHAKE_RESPONSE: sender_index, receiver_index; field[0] KEM ciphertext (1120 B for
 *                       suite 1), field[1] identity proof, field[2] mac.
 *   COOKIE_REPLY:       receiver_index; field[0] nonce, field[1] cookie; field[2] empty. */
#define ZHTP_WIRE_SUITE_HYBRID1      1 /* X25519+ML-KEM-768, Ed25519+ML-DSA-44, ChaCha20-Poly1305 */
#define ZHTP_WIRE_HYBRID1_KEM_PK_LEN 1216 /* X25519 32 + ML-KEM-768 1184 */
#define ZHTP_WIRE_HYBRID1_KEM_CT_LEN 1120 /* X25519 32 + ML-KEM-768 1088 */
#define ZHTP_WIRE_HANDSHAKE_FIELDS   3

typedef struct zhtp_wire_handshake {
    uint32_t sender_index;   /* non-zero (INIT, RESPONSE); 0 in COOKIE_REPLY */
    uint32_t receiver_index; /* non-zero (RESPONSE, COOKIE_REPLY); 0 in INIT */
    uint8_t suite;           /* ZHTP_WIRE_SUITE_*; 0 in COOKIE_REPLY */
    zhtp_wire_bytes field[ZHTP_WIRE_HANDSHAKE_FIELDS];
} zhtp_wire_handshake;

enum zhtp_wire_data_type { ZHTP_WIRE_DATA_APP = 1, ZHTP_WIRE_DATA_IPV6 = 2 };

typedef struct zhtp_wire_data {
    uint8_t subtype;      /* enum zhtp_wire_data_type */
    uint16_t channel;     /* application channel; 0 for IPV6 */
    zhtp_wire_bytes body; /* APP: 0.. bytes; IPV6: >= 40 bytes, first nibble 6 */
} zhtp_wire_data;

#define ZHTP_WIRE_DATA_HEADER_LEN 4

/* One routing control element. Types are the Routing section's (docs/routing.md); wire/
 * only frames them. Type 0 is invalid; unknown types pass through to the routing layer. */
enum zhtp_wire_routing_type {
    ZHTP_WIRE_ROUTING_ANNOUNCE = 1,
    ZHTP_WIRE_ROUTING_TREE_COORDS = 2,
    ZHTP_WIRE_ROUTING_KEEPALIVE = 3,
    ZHTP_WIRE_ROUTING_LINK_METRIC = 4,
};

typedef struct zhtp_wire_tlv {
    uint8_t type;
    zhtp_wire_bytes value; /* 0..65535 bytes */
} zhtp_wire_tlv;

typedef struct zhtp_wire_routing {
    uint8_t tlv_count; /* 1..ZHTP_WIRE_MAX_ROUTING_TLV */
    zhtp_wire_tlv tlv[ZHTP_WIRE_MAX_ROUTING_TLV];
} zhtp_wire_routing;

typedef struct zhtp_wire_receipt_entry {
    uint64_t message_id;
    uint8_t origin[ZHTP_NODE_ID_LEN];
    uint32_t payload_bytes;
    uint8_t hop_count;
} zhtp_wire_receipt_entry;

typedef struct zhtp_wire_receipt {
    uint64_t batch_seq;
    uint16_t entry_count;      /* 1..ZHTP_WIRE_MAX_RECEIPTS */
    const uint8_t *entries;    /* entry_count * 48 bytes, borrowed: zhtp_wire_receipt_entry_get */
    zhtp_wire_bytes signature; /* 1..ZHTP_WIRE_MAX_SIGNATURE; format: econ (TODO) */
} zhtp_wire_receipt;

/* Decodes entry i (< entry_count) of a decoded receipt; the receipt decoder already checked
 * every entry, so this cannot fail. */
void zhtp_wire_receipt_entry_get(const zhtp_wire_receipt *r, size_t i, zhtp_wire_receipt_entry *e);
/* Encodes an entry into 48 bytes at out (to build the entries array for encode). */
void zhtp_wire_receipt_entry_put(uint8_t out[ZHTP_WIRE_RECEIPT_ENTRY_LEN],
                                 const zhtp_wire_receipt_entry *e);

enum zhtp_wire_error_code {
    ZHTP_WIRE_ERROR_VERSION_MISMATCH = 1,
    ZHTP_WIRE_ERROR_UNKNOWN_OPERATION = 2,
    ZHTP_WIRE_ERROR_MALFORMED = 3,
    ZHTP_WIRE_ERROR_NO_SESSION = 4,
    ZHTP_WIRE_ERROR_NO_ROUTE = 5,
    ZHTP_WIRE_ERROR_HOP_LIMIT = 6,
    ZHTP_WIRE_ERROR_TOO_BIG = 7,
    ZHTP_WIRE_ERROR_OVERLOADED = 8,
    ZHTP_WIRE_ERROR_FORBIDDEN = 9,
};

typedef struct zhtp_wire_error {
    uint64_t in_reply_to;    /* 0 when the offending packet's id is unknown */
    uint16_t code;           /* non-zero; unknown codes are accepted (forward compatible) */
    uint8_t version_count;   /* VERSION_MISMATCH: 1..MAX_VERSIONS; otherwise 0 */
    const uint8_t *versions; /* strictly descending, non-zero; borrowed */
    zhtp_wire_bytes detail;  /* 0..MAX_ERROR_DETAIL bytes of UTF-8, informational only */
} zhtp_wire_error;

/* Any payload, tagged by operation. */
typedef struct zhtp_wire_payload {
    uint8_t operation; /* enum zhtp_wire_op; selects the member of u */
    union {
        zhtp_wire_dht dht; /* QUERY .. STORE_ACK, RELAY_QUERY, RELAY_RESPONSE */
        zhtp_wire_peer_discovery peer_discovery;
        zhtp_wire_handshake handshake; /* HANDSHAKE_INIT, HANDSHAKE_RESPONSE, COOKIE_REPLY */
        zhtp_wire_data data;
        zhtp_wire_routing routing;
        zhtp_wire_receipt receipt;
        zhtp_wire_error error;
    } u;
} zhtp_wire_payload;

/* Encodes the plaintext payload of p->operation. Returns its length, ZHTP_ERR_NOBUF
 * (nothing written), or the error zhtp_wire_payload_decode would return for the result
 * (a struct that breaks a rule is refused, never encoded). */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_payload_encode(uint8_t *out, size_t cap,
                                                   const zhtp_wire_payload *p);

/* Decodes the plaintext payload of operation op, which must fill in_len exactly.
 * Returns 0, ZHTP_ERR_WIRE_OPERATION, _TRUNCATED (shorter than its own fields say),
 * _LENGTH (trailing bytes, or a length/count over its limit), _RESERVED, _FIELD (an enum or
 * an index out of range). Variable parts of *p are borrowed from in. On error *p is
 * unspecified (partly written); use nothing of it. */
ZHTP_NODISCARD int zhtp_wire_payload_decode(zhtp_wire_payload *p, uint8_t op, const uint8_t *in,
                                            size_t in_len);

/* ---------------------------------------------------------------------------------------
 * Link frames, compressed header (src/wire/compress.c)
 * ------------------------------------------------------------------------------------- */

/* What a link frame carries, told by its first byte. */
enum zhtp_wire_frame_kind {
    ZHTP_WIRE_FRAME_INVALID = 0,
    ZHTP_WIRE_FRAME_FULL = 1,       /* 0x5A: a full packet (first magic byte) */
    ZHTP_WIRE_FRAME_COMPRESSED = 2, /* 0b11xxxxxx: compressed-header packet */
    ZHTP_WIRE_FRAME_FRAGMENT = 3,   /* 0b10xxxxxx: fragment */
};
enum zhtp_wire_frame_kind zhtp_wire_frame_kind(const uint8_t *frame, size_t len);

/* What both ends of a link session already know, so the compressed header can leave it out.
 * The sender uses {sender_id = own id, target_id = peer id}; the receiver the mirror image.
 * counter_base: sender side, the highest counter the peer is known (or assumed) to have
 * received; receiver side, the highest counter received and authenticated so far. Either
 * side: ZHTP_WIRE_COUNTER_NONE before the first. */
#define ZHTP_WIRE_COUNTER_NONE UINT64_MAX
typedef struct zhtp_wire_link_ctx {
    uint8_t version;
    uint8_t sender_id[ZHTP_NODE_ID_LEN];
    uint8_t target_id[ZHTP_NODE_ID_LEN];
    uint64_t counter_base;
} zhtp_wire_link_ctx;

#define ZHTP_WIRE_COMPRESSED_MAX_HEADER 102 /* every field inline */

/* Writes the compressed header for h (payload and tag follow it, unchanged). Chooses the
 * shortest encoding the context allows. Returns its length (4..102), ZHTP_ERR_NOBUF, the
 * header_check error for h, ZHTP_ERR_WIRE_VERSION if h->version != ctx->version, or
 * ZHTP_ERR_WIRE_FIELD for FLAG_CLEAR_TAIL (never compressed: no room for clear_len). */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_compressed_header_encode(uint8_t *out, size_t cap,
                                                             const zhtp_wire_header *h,
                                                             const zhtp_wire_link_ctx *ctx);

/* Decodes a compressed packet frame (header + payload + tag) into the full header h
 * (payload_len implied by frame_len). Returns the compressed header's length (the payload
 * starts there), or ZHTP_ERR_WIRE_TRUNCATED, _RESERVED, _OPERATION, _FIELD, _LENGTH,
 * ZHTP_ERR_INVAL (not a compressed frame). A wrong context or a counter reconstructed wrong
 * decodes "successfully" into a header the AEAD will reject; that is the design. */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_compressed_header_decode(zhtp_wire_header *h, const uint8_t *in,
                                                             size_t in_len,
                                                             const zhtp_wire_link_ctx *ctx);

/* Whole-packet conversions: full <-> compressed. Return the output length or the errors of
 * the codecs above, ZHTP_ERR_NOBUF (nothing written). out may be in itself (conversion in
 * place, cap counted from in) or a disjoint buffer; no other overlap. */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_packet_compress(uint8_t *out, size_t cap, const uint8_t *in,
                                                    size_t in_len, const zhtp_wire_link_ctx *ctx);
ZHTP_NODISCARD zhtp_ssize zhtp_wire_packet_decompress(uint8_t *out, size_t cap, const uint8_t *in,
                                                      size_t in_len, const zhtp_wire_link_ctx *ctx);

/* Reconstructs a full counter from its low |bytes| bytes (1, 2, 4 or 8) against the
 * receiver's counter_base: the candidate nearest to base + 1. */
uint64_t zhtp_wire_counter_expand(uint64_t truncated, unsigned bytes, uint64_t counter_base);

/* ---------------------------------------------------------------------------------------
 * Fragmentation (src/wire/fragment.c)
 * ------------------------------------------------------------------------------------- */

#define ZHTP_WIRE_FRAG_HEADER_LEN 8
#define ZHTP_WIRE_MIN_MTU         64
#define ZHTP_WIRE_MAX_MTU         65535
#define ZHTP_WIRE_FRAG_MAX_TOTAL  ZHTP_WIRE_MAX_PACKET

typedef struct zhtp_wire_frag_header {
    uint16_t tag;       /* packet tag, per sender per link */
    uint32_t total_len; /* 1..ZHTP_WIRE_FRAG_MAX_TOTAL: length of the whole packet */
    uint32_t offset;    /* byte offset of this fragment's data; multiple of 8 */
} zhtp_wire_frag_header;

/* How many fragments a packet of packet_len bytes needs at this link MTU, or
 * ZHTP_ERR_INVAL (mtu outside MIN..MAX_MTU, packet_len 0 or > FRAG_MAX_TOTAL). */
zhtp_ssize zhtp_wire_fragment_count(size_t packet_len, size_t mtu);

/* Writes fragment |index| (< count) of packet into out: an 8-byte fragment header and at
 * most mtu - 8 bytes of data (a multiple of 8 except in the last fragment). Returns the
 * frame length (<= mtu), ZHTP_ERR_INVAL or ZHTP_ERR_NOBUF. */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_fragment_build(uint8_t *out, size_t cap, const uint8_t *packet,
                                                   size_t packet_len, size_t mtu, uint16_t tag,
                                                   size_t index);

/* Decodes a fragment frame. *data borrows from in. Returns 0, ZHTP_ERR_WIRE_TRUNCATED,
 * ZHTP_ERR_WIRE_RESERVED, ZHTP_ERR_INVAL (not a fragment frame) or ZHTP_ERR_WIRE_FRAGMENT
 * (empty data, offset not a multiple of 8, data past total_len, total_len out of range, a
 * non-final fragment whose length is not a multiple of 8). */
ZHTP_NODISCARD int zhtp_wire_frag_decode(zhtp_wire_frag_header *fh, zhtp_wire_bytes *data,
                                         const uint8_t *in, size_t in_len);

/* ---------------------------------------------------------------------------------------
 * Reassembly (src/wire/reassembly.c): sans-I/O, bounded memory and time
 * ------------------------------------------------------------------------------------- */

typedef struct zhtp_wire_reasm zhtp_wire_reasm;

typedef struct zhtp_wire_reasm_config {
    const zhtp_mem *mem;           /* NULL: default allocator */
    size_t max_bytes_per_peer;     /* 0: 1 MiB. Accounted: packet buffer + bitmap + entry */
    size_t max_bytes_total;        /* 0: 8 MiB */
    uint32_t max_packets_per_peer; /* 0: 8 */
    uint32_t max_packets_total;    /* 0: 256 */
    uint32_t max_packet_len;       /* 0: ZHTP_WIRE_FRAG_MAX_TOTAL; larger totals refused */
    zhtp_time timeout_ns;          /* 0: 30 s, from a packet's first fragment */
    uint32_t finished_memory;      /* 0: 128. (peer, tag) pairs remembered after completion,
                                      eviction or expiry, each for timeout_ns */
} zhtp_wire_reasm_config;

/* Creates a reassembler. cfg is copied; NULL cfg = all defaults. Returns 0, ZHTP_ERR_NOMEM,
 * or ZHTP_ERR_INVAL (a per-peer limit above the total limit). */
int zhtp_wire_reasm_new(zhtp_wire_reasm **out, const zhtp_wire_reasm_config *cfg);
void zhtp_wire_reasm_free(zhtp_wire_reasm *r); /* NULL is a no-op */

/* Feeds one fragment frame (8-byte header + data) received from |peer| (the caller's stable
 * id for a (link, neighbour address) pair) at time now. Returns:
 *  - the length of the completed packet, with *packet pointing into the reassembler: valid
 *    until the next call on r (feed, tick or free);
 *  - ZHTP_ERR_AGAIN: accepted (or an exact duplicate), packet not complete yet;
 *  - ZHTP_ERR_WIRE_FRAGMENT: malformed, or inconsistent with earlier fragments of the same
 *    packet (total_len or overlapping bytes differ: the whole partial packet is dropped);
 *  - ZHTP_ERR_WIRE_FRAGMENT_LATE: belongs to a packet recently completed, evicted, expired
 *    or dropped (never resurrected): typically a repeated copy, not an attack;
 *  - ZHTP_ERR_WIRE_REASSEMBLY_FULL: total_len above max_packet_len or above a memory limit
 *    even with everything else evicted;
 *  - ZHTP_ERR_NOMEM: allocation failed; older packets may have been evicted to make room
 *    (they are remembered as finished), nothing else changed;
 *  - or the frag_decode errors.
 * Starting a packet that does not fit evicts the oldest partial packets first: the
 * peer's own while its per-peer limits are exceeded, then anyone's for the total limits. */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_reasm_feed(zhtp_wire_reasm *r, uint64_t peer,
                                               const uint8_t *frame, size_t frame_len,
                                               zhtp_time now, const uint8_t **packet);

/* The earliest time a partial packet expires, or ZHTP_TIME_NEVER. */
zhtp_time zhtp_wire_reasm_next_deadline(const zhtp_wire_reasm *r);

/* Drops partial packets whose deadline is <= now. Returns how many were dropped. */
size_t zhtp_wire_reasm_tick(zhtp_wire_reasm *r, zhtp_time now);

typedef struct zhtp_wire_reasm_stats {
    size_t bytes_total;   /* accounted bytes held now */
    size_t packets_total; /* partial packets held now */
    uint64_t completed, expired, evicted, rejected;
} zhtp_wire_reasm_stats;
void zhtp_wire_reasm_get_stats(const zhtp_wire_reasm *r, zhtp_wire_reasm_stats *st);
/* Accounted bytes / partial packets held for one peer. */
size_t zhtp_wire_reasm_peer_bytes(const zhtp_wire_reasm *r, uint64_t peer, size_t *packets);

/* ---- Locator block (docs/protocol.md 3.4) ----------------------------------------------------
 * With ZHTP_WIRE_FLAG_LOCATORS the payload (plaintext) starts with
 *   src_depth u8 | dst_depth u8 | src ports u16[src_depth] | dst ports u16[dst_depth]
 * (big-endian, every port non-zero), then the operation's own payload. */
#define ZHTP_WIRE_LOCATOR_MAX_DEPTH 255
typedef struct zhtp_wire_locators {
    uint8_t src_depth, dst_depth;
    const uint8_t *src_ports; /* borrowed: src_depth big-endian u16 */
    const uint8_t *dst_ports; /* borrowed: dst_depth big-endian u16 */
} zhtp_wire_locators;
#define ZHTP_WIRE_LOCATORS_LEN(src_depth, dst_depth) (2u + 2u * ((size_t)(src_depth) + (dst_depth)))

/* Writes the block for ports src[0..src_depth) and dst[0..dst_depth) (host order). Returns its
 * length, ZHTP_ERR_INVAL (depth over 255, a zero port, NULL with a non-zero depth) or
 * ZHTP_ERR_NOBUF (nothing written). */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_locators_encode(uint8_t *out, size_t cap, const uint16_t *src,
                                                    size_t src_depth, const uint16_t *dst,
                                                    size_t dst_depth);
/* Parses the block at the start of an untrusted payload. Returns its length (the operation's
 * payload follows), ZHTP_ERR_WIRE_TRUNCATED or ZHTP_ERR_WIRE_FIELD (a zero port). */
ZHTP_NODISCARD zhtp_ssize zhtp_wire_locators_decode(zhtp_wire_locators *l, const uint8_t *in,
                                                    size_t len);
/* Copies ports [0..depth) of a decoded block's list into host order. */
void zhtp_wire_locators_ports(uint16_t *out, const uint8_t *ports, size_t depth);

#ifdef __cplusplus
}
#endif
#endif
