/* zhtp: the umbrella header of libzhtp. Including it gives the whole public API; each header
 * can also be included alone. */
#ifndef ZHTP_ZHTP_H
#define ZHTP_ZHTP_H

#include "zhtp/err.h"
#include "zhtp/util.h"
#include "zhtp/mem.h"
#include "zhtp/blake3.h"
#include "zhtp/mlkem.h"
#include "zhtp/mldsa.h"
#include "zhtp/hybrid.h"
#include "zhtp/identity.h"
#include "zhtp/keyfile.h"

#endif
