/* Constant-time checking hooks. Secret-processing code marks values that are public by design
 * (for example the ML-DSA rejection decision, or rho once derived) with ZHTP_CT_DECLASSIFY, so
 * the valgrind secret-taint test (tests/ct/) flags only genuine secret-dependent branches and
 * memory indices. Outside valgrind the client request costs a handful of instructions. */
#ifndef ZHTP_CT_H
#define ZHTP_CT_H

#if defined(ZHTP_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#define ZHTP_CT_DECLASSIFY(p, len) VALGRIND_MAKE_MEM_DEFINED((p), (len))
#define ZHTP_CT_SECRET(p, len)     VALGRIND_MAKE_MEM_UNDEFINED((p), (len))
#else
#define ZHTP_CT_DECLASSIFY(p, len) ((void)(p), (void)(len))
#define ZHTP_CT_SECRET(p, len)     ((void)(p), (void)(len))
#endif

#endif
