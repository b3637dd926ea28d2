/* Private to src/crypto/keccak: the SIMD permutation backends keccak.c dispatches to. */
#ifndef ZHTP_KECCAK_IMPL_H
#define ZHTP_KECCAK_IMPL_H

#include <stdint.h>

#if defined(ZHTP_KECCAK_HAVE_AVX2)
/* Same contract as zhtp_keccakf1600_x4; call only when the CPU has AVX2. */
void zhtp_keccakf1600_x4_avx2(uint64_t s[100]);
#endif

#endif
