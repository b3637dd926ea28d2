/* Arithmetic mod q = 8380417: Montgomery and Barrett-style reductions, the portable NTT
 * backend (FIPS 204 Alg. 41/42), rounding (Power2Round, Decompose) and hints. Constant time:
 * every function here is straight-line arithmetic on its inputs, except use_hint, which runs
 * only on public data in verify. */
#include "zhtp/util.h"
#include "mldsa_internal.h"

/* zetas[i] = 1753^BitRev8(i) * 2^32 mod q, centered (FIPS 204 Appendix B in Montgomery form;
 * generated from the definition, zetas[0] is unused). */
const int32_t mldsa_zetas[256] __attribute__((aligned(32))) = {
    -4186625, 25847,    -2608894, -518909,  237124,   -777960,  -876248,  466468,   1826347,
    2353451,  -359251,  -2091905, 3119733,  -2884855, 3111497,  2680103,  2725464,  1024112,
    -1079900, 3585928,  -549488,  -1119584, 2619752,  -2108549, -2118186, -3859737, -1399561,
    -3277672, 1757237,  -19422,   4010497,  280005,   2706023,  95776,    3077325,  3530437,
    -1661693, -3592148, -2537516, 3915439,  -3861115, -3043716, 3574422,  -2867647, 3539968,
    -300467,  2348700,  -539299,  -1699267, -1643818, 3505694,  -3821735, 3507263,  -2140649,
    -1600420, 3699596,  811944,   531354,   954230,   3881043,  3900724,  -2556880, 2071892,
    -2797779, -3930395, -1528703, -3677745, -3041255, -1452451, 3475950,  2176455,  -1585221,
    -1257611, 1939314,  -4083598, -1000202, -3190144, -3157330, -3632928, 126922,   3412210,
    -983419,  2147896,  2715295,  -2967645, -3693493, -411027,  -2477047, -671102,  -1228525,
    -22981,   -1308169, -381987,  1349076,  1852771,  -1430430, -3343383, 264944,   508951,
    3097992,  44288,    -1100098, 904516,   3958618,  -3724342, -8578,    1653064,  -3249728,
    2389356,  -210977,  759969,   -1316856, 189548,   -3553272, 3159746,  -1851402, -2409325,
    -177440,  1315589,  1341330,  1285669,  -1584928, -812732,  -1439742, -3019102, -3881060,
    -3628969, 3839961,  2091667,  3407706,  2316500,  3817976,  -3342478, 2244091,  -2446433,
    -3562462, 266997,   2434439,  -1235728, 3513181,  -3520352, -3759364, -1197226, -3193378,
    900702,   1859098,  909542,   819034,   495491,   -1613174, -43260,   -522500,  -655327,
    -3122442, 2031748,  3207046,  -3556995, -525098,  -768622,  -3595838, 342297,   286988,
    -2437823, 4108315,  3437287,  -3342277, 1735879,  203044,   2842341,  2691481,  -2590150,
    1265009,  4055324,  1247620,  2486353,  1595974,  -3767016, 1250494,  2635921,  -3548272,
    -2994039, 1869119,  1903435,  -1050970, -1333058, 1237275,  -3318210, -1430225, -451100,
    1312455,  3306115,  -1962642, -1279661, 1917081,  -2546312, -1374803, 1500165,  777191,
    2235880,  3406031,  -542412,  -2831860, -1671176, -1846953, -2584293, -3724270, 594136,
    -3776993, -2013608, 2432395,  2454455,  -164721,  1957272,  3369112,  185531,   -1207385,
    -3183426, 162844,   1616392,  3014001,  810149,   1652634,  -3694233, -1799107, -3038916,
    3523897,  3866901,  269760,   2213111,  -975884,  1717735,  472078,   -426683,  1723600,
    -1803090, 1910376,  -1667432, -1104333, -260646,  -3833893, -2939036, -2235985, -420899,
    -2286327, 183443,   -976891,  1612842,  -3545687, -554416,  3919660,  -48306,   -1362209,
    3937738,  1400424,  -846154,  1976782,
};

static int32_t caddq(int32_t a)
{
    return a + ((a >> 31) & MLDSA_Q);
}

static int32_t freeze(int32_t a)
{
    return caddq(mldsa_reduce32(a));
}

/* ---- portable NTT backend ---- */

static void ntt_portable(mldsa_poly *a)
{
    unsigned m = 0;
    for (unsigned len = 128; len > 0; len >>= 1) {
        for (unsigned start = 0; start < MLDSA_N; start += 2 * len) {
            int64_t z = mldsa_zetas[++m];
            for (unsigned j = start; j < start + len; j++) {
                int32_t t = mldsa_montgomery_reduce(z * a->c[j + len]);
                a->c[j + len] = a->c[j] - t;
                a->c[j] = a->c[j] + t;
            }
        }
    }
}

static void invntt_tomont_portable(mldsa_poly *a)
{
    /* f = 2^64 / 256 mod q: the 1/256 of the inverse transform, times R^2 so that the
     * Montgomery multiplication leaves one factor R (see mldsa_internal.h). */
    const int64_t f = 41978;
    unsigned m = MLDSA_N;
    for (unsigned len = 1; len < MLDSA_N; len <<= 1) {
        for (unsigned start = 0; start < MLDSA_N; start += 2 * len) {
            int64_t z = -mldsa_zetas[--m];
            for (unsigned j = start; j < start + len; j++) {
                int32_t t = a->c[j];
                /* |a| <= q on input, so sums stay below 256 q < 2^31. */
                a->c[j] = t + a->c[j + len];
                a->c[j + len] = mldsa_montgomery_reduce(z * (t - a->c[j + len]));
            }
        }
    }
    for (unsigned j = 0; j < MLDSA_N; j++)
        a->c[j] = mldsa_montgomery_reduce(f * a->c[j]);
}

static void pointwise_acc_portable(mldsa_poly *out, const mldsa_poly *a, const mldsa_poly *b,
                                   unsigned n)
{
    for (unsigned j = 0; j < MLDSA_N; j++) {
        int64_t acc = 0;
        for (unsigned i = 0; i < n; i++)
            acc += (int64_t)a[i].c[j] * b[i].c[j];
        out->c[j] = mldsa_reduce32(mldsa_montgomery_reduce(acc));
    }
}

/* ---- coefficient-wise helpers ---- */

void mldsa_poly_reduce(mldsa_poly *a)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        a->c[i] = mldsa_reduce32(a->c[i]);
}

void mldsa_poly_freeze(mldsa_poly *a)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        a->c[i] = freeze(a->c[i]);
}

void mldsa_poly_add(mldsa_poly *r, const mldsa_poly *a, const mldsa_poly *b)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        r->c[i] = a->c[i] + b->c[i];
}

void mldsa_poly_sub(mldsa_poly *r, const mldsa_poly *a, const mldsa_poly *b)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        r->c[i] = a->c[i] - b->c[i];
}

void mldsa_poly_shiftl(mldsa_poly *a)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        a->c[i] *= 1 << MLDSA_D;
}

uint32_t mldsa_poly_exceeds(const mldsa_poly *a, int32_t bound)
{
    uint32_t bad = 0;
    for (unsigned i = 0; i < MLDSA_N; i++) {
        int32_t m = a->c[i] >> 31;
        int32_t abs = (a->c[i] ^ m) - m;
        bad |= (uint32_t)((bound - 1 - abs) >> 31); /* all ones when abs >= bound */
    }
    return bad & 1;
}

/* ---- rounding ---- */

void mldsa_poly_power2round(mldsa_poly *a1, mldsa_poly *a0, const mldsa_poly *a)
{
    for (unsigned i = 0; i < MLDSA_N; i++) {
        /* a1 = ceil((a - 2^12) / 2^13) puts a0 = a - a1 2^13 in (-2^12, 2^12]. */
        int32_t hi = (a->c[i] + (1 << (MLDSA_D - 1)) - 1) >> MLDSA_D;
        a0->c[i] = a->c[i] - (hi << MLDSA_D);
        a1->c[i] = hi;
    }
}

void mldsa_decompose(int32_t *r1, int32_t *r0, int32_t r)
{
    /* r1 = ceil((r - gamma2) / (2 gamma2)) = floor((r + gamma2 - 1) / (2 gamma2)), so that
     * r0 = r - r1 2 gamma2 lies in (-gamma2, gamma2]. 2 gamma2 = 2^11 * 93, and x / 93 for
     * x < 2^13 is (x * ceil(2^20 / 93)) >> 20 exactly (the unit test checks every r): 32-bit
     * arithmetic only, no divide instruction, and it vectorizes. */
    uint32_t x = (uint32_t)(r + MLDSA_GAMMA2 - 1) >> 11;
    int32_t hi = (int32_t)((x * 11276u) >> 20);
    int32_t lo = r - hi * 2 * MLDSA_GAMMA2;
    /* r - r0 = q - 1 (hi = 44): FIPS 204 sets r1 = 0 and r0 = r0 - 1. */
    int32_t wrap = -(int32_t)(((uint32_t)(hi ^ 44) - 1) >> 31); /* all ones when hi == 44 */
    *r1 = hi & ~wrap;
    *r0 = lo + wrap;
}

static void poly_decompose_portable(mldsa_poly *a1, mldsa_poly *a0, const mldsa_poly *a)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        mldsa_decompose(&a1->c[i], &a0->c[i], freeze(a->c[i]));
}

static void matrix_pointwise_portable(mldsa_poly out[MLDSA_K], const mldsa_poly a[MLDSA_K][MLDSA_L],
                                      const mldsa_poly v[MLDSA_L])
{
    for (unsigned i = 0; i < MLDSA_K; i++)
        pointwise_acc_portable(&out[i], a[i], v, MLDSA_L);
}

static uint32_t poly_make_hint_portable(mldsa_poly *h, const mldsa_poly *a, const mldsa_poly *b1)
{
    uint32_t count = 0;
    for (unsigned i = 0; i < MLDSA_N; i++) {
        int32_t a1, lo;
        mldsa_decompose(&a1, &lo, a->c[i]);
        uint32_t x = (uint32_t)(a1 ^ b1->c[i]);
        uint32_t bit = (x | (0u - x)) >> 31;
        h->c[i] = (int32_t)bit;
        count += bit;
    }
    return count;
}

void mldsa_poly_use_hint(mldsa_poly *out, const mldsa_poly *a, const mldsa_poly *h)
{
    for (unsigned i = 0; i < MLDSA_N; i++) {
        int32_t r1, r0;
        mldsa_decompose(&r1, &r0, a->c[i]);
        if (h->c[i]) {
            /* m = (q-1) / (2 gamma2) = 44 */
            r1 = r0 > 0 ? (r1 == 43 ? 0 : r1 + 1) : (r1 == 0 ? 43 : r1 - 1);
        }
        out->c[i] = r1;
    }
}

static void sparse_mul_portable(mldsa_poly *out, const int32_t ext[2 * MLDSA_N], const uint8_t *pos,
                                unsigned npos, const uint8_t *neg, unsigned nneg)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        out->c[i] = 0;
    for (unsigned k = 0; k < npos; k++) {
        const int32_t *p = ext + MLDSA_N - pos[k];
        for (unsigned i = 0; i < MLDSA_N; i++)
            out->c[i] += p[i];
    }
    for (unsigned k = 0; k < nneg; k++) {
        const int32_t *p = ext + MLDSA_N - neg[k];
        for (unsigned i = 0; i < MLDSA_N; i++)
            out->c[i] -= p[i];
    }
}

static void sparse_mul8_portable(mldsa_poly *out, const int8_t ext[2 * MLDSA_N], const uint8_t *pos,
                                 unsigned npos, const uint8_t *neg, unsigned nneg)
{
    for (unsigned i = 0; i < MLDSA_N; i++)
        out->c[i] = 0;
    for (unsigned k = 0; k < npos; k++) {
        const int8_t *p = ext + MLDSA_N - pos[k];
        for (unsigned i = 0; i < MLDSA_N; i++)
            out->c[i] += p[i];
    }
    for (unsigned k = 0; k < nneg; k++) {
        const int8_t *p = ext + MLDSA_N - neg[k];
        for (unsigned i = 0; i < MLDSA_N; i++)
            out->c[i] -= p[i];
    }
}

static uint32_t add_exceeds_portable(mldsa_poly *z, const mldsa_poly *y, int32_t bound)
{
    mldsa_poly_add(z, z, y);
    return mldsa_poly_exceeds(z, bound);
}

static uint32_t lowbits_exceeds_portable(mldsa_poly *r, mldsa_poly *r1, const mldsa_poly *w,
                                         const mldsa_poly *cs2, int32_t bound)
{
    mldsa_poly r0;
    mldsa_poly_sub(r, w, cs2);
    mldsa_poly_freeze(r);
    poly_decompose_portable(r1, &r0, r);
    uint32_t bad = mldsa_poly_exceeds(&r0, bound);
    zhtp_wipe(&r0, sizeof r0); /* secret intermediate */
    return bad;
}

const mldsa_backend mldsa_backend_portable = {
    .name = "portable",
    .ntt = ntt_portable,
    .invntt_tomont = invntt_tomont_portable,
    .pointwise_acc = pointwise_acc_portable,
    .matrix_pointwise = matrix_pointwise_portable,
    .decompose = poly_decompose_portable,
    .make_hint = poly_make_hint_portable,
    .use_hint = mldsa_poly_use_hint,
    .freeze = mldsa_poly_freeze,
    .exceeds = mldsa_poly_exceeds,
    .unpack_z = mldsa_unpack_z,
    .rej_uniform = mldsa_rej_uniform,
    .sparse_mul = sparse_mul_portable,
    .sparse_mul8 = sparse_mul8_portable,
    .add_exceeds = add_exceeds_portable,
    .lowbits_exceeds = lowbits_exceeds_portable,
};
