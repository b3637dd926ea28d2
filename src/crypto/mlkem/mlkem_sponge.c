/* Independent Keccak sponges run side by side in the lanes of one four-way state. The lanes
 * may differ in rate, padding byte, input length and output length: the permutation is the
 * same function whatever the rate, so lane l simply absorbs its block b before permutation
 * b + 1 and reads its output block o after permutation n_in + o + 1. On the portable x4
 * backend four lanes cost four permutations, so the jobs then run one after another. */
#include <string.h>

#include "keccak.h"
#include "mlkem_internal.h"
#include "zhtp/util.h"

static size_t job_in_len(const mlkem_sponge_job *j)
{
    return j->in_len[0] + j->in_len[1];
}

/* Input blocks including the one that holds the padding. */
static size_t job_in_blocks(const mlkem_sponge_job *j)
{
    return job_in_len(j) / j->rate + 1;
}

static size_t job_out_blocks(const mlkem_sponge_job *j)
{
    return (j->out_len + j->rate - 1) / j->rate;
}

/* Block b of the padded input (pad10*1 with domain byte ds), gathered from the segments. */
static void job_block(uint8_t blk[200], const mlkem_sponge_job *j, size_t b)
{
    size_t off = b * j->rate, len = job_in_len(j), filled = 0;
    memset(blk, 0, j->rate);
    for (unsigned seg = 0, base = 0; seg < 2 && filled < j->rate; base += j->in_len[seg], seg++) {
        size_t seg_end = base + j->in_len[seg], at = off + filled;
        if (at >= seg_end)
            continue;
        size_t n = seg_end - at < j->rate - filled ? seg_end - at : j->rate - filled;
        memcpy(blk + filled, j->in[seg] + (at - base), n);
        filled += n;
    }
    if (len / j->rate == b) {
        blk[len % j->rate] ^= j->ds;
        blk[j->rate - 1] ^= 0x80;
    }
}

static void run_single(const mlkem_sponge_job *j)
{
    zhtp_keccak k;
    zhtp_keccak_init(&k, j->rate);
    zhtp_keccak_absorb(&k, j->in[0], j->in_len[0]);
    if (j->in_len[1] > 0)
        zhtp_keccak_absorb(&k, j->in[1], j->in_len[1]);
    zhtp_keccak_finalize(&k, j->ds);
    zhtp_keccak_squeeze(&k, j->out, j->out_len);
    zhtp_wipe(&k, sizeof k);
}

void zhtp_mlkem_sponge_run(const mlkem_sponge_job *jobs, unsigned n)
{
    if (n == 0)
        return;
    if (n == 1 || strcmp(zhtp_keccak_x4_impl(), "portable") == 0) {
        for (unsigned l = 0; l < n; l++)
            run_single(&jobs[l]);
        return;
    }
    struct {
        zhtp_keccak_x4 k4;
        uint8_t blk[200];
    } sec;
    size_t perms = 0;
    memset(&sec.k4, 0, sizeof sec.k4);
    for (unsigned l = 0; l < n; l++) {
        size_t p = job_in_blocks(&jobs[l]) + job_out_blocks(&jobs[l]);
        perms = p > perms ? p : perms;
    }
    /* The last permutation only produces output, so perms - 1 of them are needed. */
    for (size_t p = 0; p + 1 < perms; p++) {
        for (unsigned l = 0; l < n; l++) {
            const mlkem_sponge_job *j = &jobs[l];
            if (p < job_in_blocks(j)) {
                /* A whole block inside one segment is read in place; the others (segment
                 * boundary, padding) are gathered first. */
                size_t off = p * j->rate;
                const uint8_t *src = sec.blk;
                if (off + j->rate <= j->in_len[0])
                    src = j->in[0] + off;
                else if (off >= j->in_len[0] && off + j->rate <= job_in_len(j))
                    src = j->in[1] + (off - j->in_len[0]);
                else
                    job_block(sec.blk, j, p);
                for (unsigned w = 0; w < j->rate / 8; w++)
                    sec.k4.s[4 * w + l] ^= zhtp_keccak_load64(src + 8 * w);
            }
        }
        zhtp_keccakf1600_x4(sec.k4.s);
        for (unsigned l = 0; l < n; l++) {
            const mlkem_sponge_job *j = &jobs[l];
            size_t nin = job_in_blocks(j);
            if (p + 1 < nin || p + 1 - nin >= job_out_blocks(j))
                continue;
            size_t o = p + 1 - nin, off = o * j->rate;
            size_t take = j->out_len - off < j->rate ? j->out_len - off : j->rate, i = 0;
            for (; i + 8 <= take; i += 8)
                zhtp_keccak_store64(j->out + off + i, sec.k4.s[4 * (i / 8) + l]);
            for (; i < take; i++)
                j->out[off + i] = (uint8_t)(sec.k4.s[4 * (i / 8) + l] >> (8 * (i % 8)));
        }
    }
    zhtp_wipe(&sec, sizeof sec);
}
