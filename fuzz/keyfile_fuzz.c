/* Fuzzes the key file decoder with a fixed passphrase. Two modes, chosen by the first byte:
 *
 *   even: the rest is decoded as is: exercises magic, version, truncation and checksums;
 *   odd:  the rest is first "re-sealed": stored Argon2id parameters within our caps are
 *         lowered to the minimum (1 pass, 8 KiB) and both checksums recomputed, so the fuzzer
 *         gets past the integrity checks to the parameter caps, the algorithm fields and the
 *         AEAD. Parameters above the caps are left as they are, and must be refused as
 *         ZHTP_ERR_KEYFILE_FORMAT without the KDF ever running at that cost.
 *
 * Never crashes; the outcome is a secret or one of the documented errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zhtp/blake3.h"
#include "zhtp/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[ZHTP_KEYFILE_MAX_BYTES];
    if (size == 0 || size - 1 > sizeof buf)
        return 0;
    size_t len = size - 1;
    memcpy(buf, data + 1, len);
    int over_cap = 0;
    if ((data[0] & 1) && len >= ZHTP_KEYFILE_HEADER_BYTES + ZHTP_KEYFILE_SUM_BYTES) {
        uint64_t ops = le64(buf + 16), mem = le64(buf + 24);
        over_cap = ops < ZHTP_KEYFILE_OPSLIMIT_MIN || ops > ZHTP_KEYFILE_OPSLIMIT_MAX ||
                   mem < ZHTP_KEYFILE_MEMLIMIT_MIN || mem > ZHTP_KEYFILE_MEMLIMIT_MAX;
        if (!over_cap) {
            put_le64(buf + 16, ZHTP_KEYFILE_OPSLIMIT_MIN);
            put_le64(buf + 24, ZHTP_KEYFILE_MEMLIMIT_MIN);
        }
        zhtp_blake3_derive_key(buf + 72, 8, "zhtp 2026-11 keyfile header v1", buf, 72);
        zhtp_blake3_derive_key(buf + len - 32, 32, "zhtp 2026-11 keyfile checksum v1", buf,
                               len - 32);
    } else if (len >= ZHTP_KEYFILE_HEADER_BYTES) {
        /* Raw input: the KDF must only run at the fuzz-friendly cost, so skip inputs whose
         * checksums happen to pass with a costly setting (they cannot be forged by chance,
         * but a seed file could carry them). */
        zhtp_keyfile_params p;
        if (zhtp_keyfile_inspect(buf, len, NULL, NULL, &p) == ZHTP_OK &&
            (p.opslimit > 1 || p.memlimit > 65536))
            return 0;
    }
    uint8_t secret[ZHTP_KEYFILE_SECRET_MAX], kind = 0;
    zhtp_ssize rc = zhtp_keyfile_decode(secret, sizeof secret, &kind, buf, len, "fuzz", 4);
    if (over_cap && buf[8] == ZHTP_KEYFILE_VERSION && memcmp(buf, "ZHTPKEY", 8) == 0 &&
        rc != ZHTP_ERR_KEYFILE_FORMAT && rc != ZHTP_ERR_KEYFILE_TRUNCATED &&
        rc != ZHTP_ERR_KEYFILE_CORRUPT)
        abort(); /* absurd parameters must never reach the KDF */
    if (rc >= 0) {
        if (kind != ZHTP_KEYFILE_KIND_IDENTITY || rc != ZHTP_IDENTITY_SEEDBYTES)
            abort();
    } else if (rc != ZHTP_ERR_KEYFILE_FORMAT && rc != ZHTP_ERR_KEYFILE_TRUNCATED &&
               rc != ZHTP_ERR_KEYFILE_CORRUPT && rc != ZHTP_ERR_KEYFILE_PASSPHRASE) {
        abort();
    }
    return 0;
}
