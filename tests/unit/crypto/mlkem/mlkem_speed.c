/* Local timing for ML-KEM-768 (not a test, not the official benchmark): for each backend,
 * batches of 200 KeyGen / Encaps / Decaps, reporting the best batch (robust on a shared
 * machine) and the mean, per operation. Usage: mlkem_speed [batches] (default 50). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zhtp/mlkem.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    static uint8_t pk[ZHTP_MLKEM768_PUBLICKEYBYTES], sk[ZHTP_MLKEM768_SECRETKEYBYTES];
    static uint8_t ct[ZHTP_MLKEM768_CIPHERTEXTBYTES];
    const char *impls[] = {"portable", "avx2"};
    const char *ops[] = {"keygen", "encaps", "decaps"};
    const int per = 200;
    int batches = argc > 1 ? atoi(argv[1]) : 50;

    if (batches <= 0)
        batches = 50;
    for (int k = 0; k < 2; k++) {
        if (zhtp_kem_mlkem768_set_impl(impls[k]) != ZHTP_OK) {
            printf("%-8s unavailable\n", impls[k]);
            continue;
        }
        uint8_t d[32] = {1}, z[32] = {2}, m[32] = {3}, ss[32], ss2[32];
        double best[3] = {1e9, 1e9, 1e9}, total[3] = {0, 0, 0};
        for (int b = 0; b < batches; b++) {
            double t[4];
            t[0] = now_s();
            for (int i = 0; i < per; i++) {
                d[0] = (uint8_t)i;
                zhtp_kem_mlkem768_keypair_from_seed(pk, sk, d, z);
            }
            t[1] = now_s();
            for (int i = 0; i < per; i++) {
                m[0] = (uint8_t)i;
                if (zhtp_kem_mlkem768_encaps_from_seed(ct, ss, pk, m) != ZHTP_OK)
                    return 1;
            }
            t[2] = now_s();
            for (int i = 0; i < per; i++)
                if (zhtp_kem_mlkem768_decaps(ss2, ct, sk) != ZHTP_OK)
                    return 1;
            t[3] = now_s();
            if (memcmp(ss, ss2, sizeof ss) != 0)
                return 2;
            for (int j = 0; j < 3; j++) {
                double us = (t[j + 1] - t[j]) / per * 1e6;
                best[j] = us < best[j] ? us : best[j];
                total[j] += us;
            }
        }
        for (int j = 0; j < 3; j++)
            printf("%-8s %s best %7.2f us (%6.0f/s)  mean %7.2f us\n", impls[k], ops[j], best[j],
                   1e6 / best[j], total[j] / batches);
    }
    zhtp_kem_mlkem768_set_impl("auto");
    return 0;
}
