/* Small helpers every layer may use: secret wiping, constant-time compare, hex. */
#ifndef ZHTP_UTIL_H
#define ZHTP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "zhtp/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zeroes len bytes at p in a way the compiler cannot elide (sodium_memzero). */
void zhtp_wipe(void *p, size_t len);

/* 0 when the len bytes at a and b are equal, else -1; time depends only on len. */
int zhtp_ct_memcmp(const void *a, const void *b, size_t len);

/* Writes 2*len lowercase hex digits and a NUL into out (cap >= 2*len+1).
 * Returns 2*len, or ZHTP_ERR_NOBUF with nothing written. */
zhtp_ssize zhtp_hex_encode(char *out, size_t cap, const uint8_t *in, size_t len);

/* Decodes hex (either case, even length, no separators) into out. Returns the byte count,
 * ZHTP_ERR_INVAL for a bad digit or odd length, ZHTP_ERR_NOBUF when cap is too small. */
zhtp_ssize zhtp_hex_decode(uint8_t *out, size_t cap, const char *hex, size_t hex_len);

#ifdef __cplusplus
}
#endif
#endif
