/* Measurements for docs/security.md §7 (not a test): cost of signing and verifying a control
 * request, and of the hybrid verify and wallet-key check inside it.
 * Build and run: ninja -C build-X tests/unit/security/security_bench &&
 *                build-X/tests/unit/security/security_bench [requests] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zhtp/security.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 1 || n > 4096)
        n = 200;
    uint8_t seed[ZHTP_IDENTITY_SEEDBYTES] = {7};
    zhtp_wallet *w = NULL;
    zhtp_ctl_verifier *v = NULL;
    char(*lines)[ZHTP_CTL_LINE_MAX] = malloc((size_t)n * ZHTP_CTL_LINE_MAX);
    if (!lines || zhtp_wallet_from_seed(&w, seed) || zhtp_ctl_verifier_new(&v, NULL))
        return 1;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        uint8_t nonce[16] = {0};
        memcpy(nonce, &i, sizeof i);
        if (zhtp_ctl_request_build(lines[i], ZHTP_CTL_LINE_MAX, w, "status", NULL, 0, nonce, 16,
                                   1700000000) < 0)
            return 1;
    }
    double t1 = now_s();
    for (int i = 0; i < n; i++) {
        zhtp_ctl_request r;
        if (zhtp_ctl_verify(v, &r, lines[i], strlen(lines[i]), 1700000000) != ZHTP_OK)
            return 1;
        zhtp_ctl_request_clear(&r);
    }
    double t2 = now_s();
    const uint8_t *pk = zhtp_wallet_public_key(w);
    for (int i = 0; i < n; i++)
        if (zhtp_sign_hybrid_pk_parse(NULL, pk, ZHTP_WALLET_PK_BYTES) != ZHTP_OK)
            return 1;
    double t3 = now_s();
    printf("requests %d, line %zu bytes\n", n, strlen(lines[0]));
    printf("build+sign   %8.1f us/request\n", (t1 - t0) / n * 1e6);
    printf("verify       %8.1f us/request (parse, key check, hybrid verify, replay cache)\n",
           (t2 - t1) / n * 1e6);
    printf("key check    %8.1f us (zhtp_sign_hybrid_pk_parse)\n", (t3 - t2) / n * 1e6);
    zhtp_ctl_verifier_free(v);
    zhtp_wallet_free(w);
    free(lines);
    return 0;
}
