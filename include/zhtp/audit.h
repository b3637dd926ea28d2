/* The control-plane audit log (docs/security.md §4): every control request, allowed or refused,
 * as one entry {index, timestamp, operation, caller, success, code, reason}, hash-chained with
 * BLAKE3 (each entry's hash commits to its index and to the previous entry's hash), in its own
 * LMDB environment. A head (count, last hash) kept in a meta record lets verify see a tail cut.
 *
 * Append-only through this API. The chain detects editing of the files by anyone who does not
 * also recompute every later hash and the head; a writer who can rewrite the whole file can forge
 * a consistent log, so the head must be anchored elsewhere against that (docs/security.md §4.3). */
#ifndef ZHTP_AUDIT_H
#define ZHTP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZHTP_AUDIT_OP_MAX        32
#define ZHTP_AUDIT_REASON_MAX    200
#define ZHTP_AUDIT_HASH_BYTES    32
#define ZHTP_AUDIT_CALLER_BYTES  32 /* the wallet id (include/zhtp/wallet.h); zero: unknown */
#define ZHTP_AUDIT_ENTRY_CONTEXT "zhtp 2026-11 audit entry v1"

typedef struct zhtp_audit_entry {
    uint64_t index; /* 0, 1, 2, ... */
    int64_t ts;     /* unix seconds at the daemon */
    char op[ZHTP_AUDIT_OP_MAX + 1];
    uint8_t caller[ZHTP_AUDIT_CALLER_BYTES];
    bool success;
    int32_t code; /* the zhtp_err of the outcome (0 on success) */
    char reason[ZHTP_AUDIT_REASON_MAX + 1];
    uint8_t prev_hash[ZHTP_AUDIT_HASH_BYTES];
    uint8_t hash[ZHTP_AUDIT_HASH_BYTES];
} zhtp_audit_entry;

typedef struct zhtp_audit zhtp_audit;

/* Opens (creating) the log in directory dir, which must exist. ZHTP_OK, ZHTP_ERR_NOMEM,
 * ZHTP_ERR_NOTFOUND (no such directory), ZHTP_ERR_SEC_BACKEND. */
int zhtp_audit_open(zhtp_audit **out, const char *dir);
void zhtp_audit_close(zhtp_audit *a);

/* Appends one entry; op and reason are truncated to their maximum (at a UTF-8 boundary is not
 * guaranteed; they are ASCII in practice), caller may be NULL (unknown). *index_out (may be NULL)
 * gets the entry's index. ZHTP_OK, ZHTP_ERR_INVAL, ZHTP_ERR_SEC_BACKEND (nothing appended). */
int zhtp_audit_append(zhtp_audit *a, int64_t ts, const char *op,
                      const uint8_t caller[ZHTP_AUDIT_CALLER_BYTES], bool success, int32_t code,
                      const char *reason, uint64_t *index_out);

/* The number of entries per the head record. */
uint64_t zhtp_audit_count(zhtp_audit *a);

/* The head: entry count and the hash of the last entry (zero when empty). Printing this and
 * keeping a copy off the machine is what makes a whole-file rewrite detectable (§4.3).
 * ZHTP_OK or ZHTP_ERR_SEC_BACKEND. */
int zhtp_audit_head(zhtp_audit *a, uint64_t *count, uint8_t hash[ZHTP_AUDIT_HASH_BYTES]);

/* Reads up to max entries starting at index from into out; *n gets the count (0 past the end).
 * Entries are returned as stored: run verify to trust them. ZHTP_OK, ZHTP_ERR_SEC_BACKEND. */
int zhtp_audit_read(zhtp_audit *a, uint64_t from, zhtp_audit_entry *out, size_t max, size_t *n);

/* Walks the whole chain. ZHTP_OK, or ZHTP_ERR_SEC_AUDIT_TAMPERED with *bad_index the first entry
 * that is altered (hash mismatch, undecodable), out of place (stored index differs from its
 * position: reordered), missing (a gap: *bad_index is the missing position) or whose prev_hash
 * does not match; or ZHTP_ERR_SEC_AUDIT_TRUNCATED with *bad_index the first missing index when
 * the chain is intact but shorter than the head says, or its last hash differs from the head's.
 * ZHTP_ERR_SEC_BACKEND on a read error. */
ZHTP_NODISCARD int zhtp_audit_verify(zhtp_audit *a, uint64_t *bad_index);

/* Raw access for tests that simulate tampering with the files: replace, delete or put the
 * stored value at key index without touching the chain or the head. */
int zhtp_audit_raw_get(zhtp_audit *a, uint64_t index, uint8_t *buf, size_t cap, size_t *len);
int zhtp_audit_raw_put(zhtp_audit *a, uint64_t index, const uint8_t *buf, size_t len);
int zhtp_audit_raw_delete(zhtp_audit *a, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
