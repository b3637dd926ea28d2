#include <sodium.h>

#include "zhtp/util.h"

void zhtp_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

int zhtp_ct_memcmp(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len);
}

zhtp_ssize zhtp_hex_encode(char *out, size_t cap, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    if (len > (SIZE_MAX - 1) / 2 || cap < 2 * len + 1)
        return ZHTP_ERR_NOBUF;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
    return (zhtp_ssize)(2 * len);
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

zhtp_ssize zhtp_hex_decode(uint8_t *out, size_t cap, const char *hex, size_t hex_len)
{
    if (hex_len % 2 != 0)
        return ZHTP_ERR_INVAL;
    if (cap < hex_len / 2)
        return ZHTP_ERR_NOBUF;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return ZHTP_ERR_INVAL;
    }
    for (size_t i = 0; i < hex_len; i += 2)
        out[i / 2] = (uint8_t)(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
    return (zhtp_ssize)(hex_len / 2);
}
