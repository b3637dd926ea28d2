/* store/ throughput, for docs/store.md: durable chunk puts per second (1 KiB and 64 KiB),
 * chunk gets per second (each re-hashes with BLAKE3), and record puts. Every put is its own
 * synchronous LMDB commit, except the batched puts (one commit per batch of 64). As a reference
 * measured in the same run on the same file system: raw write+fdatasync cycles per second, the
 * floor any durable single-put commit pays.
 *
 * Usage: store_bench [seconds per measurement, default 2] [directory, default /tmp]
 * (the directory must be on the file system to measure; a temporary subdirectory is made and
 * removed). */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zhtp/blake3.h"
#include "zhtp/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static uint64_t xs = 0x243F6A8885A308D3u;
static void fill(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        xs ^= xs << 13, xs ^= xs >> 7, xs ^= xs << 17;
        p[i] = (uint8_t)xs;
    }
}

#define MAX_KEYS 200000
static uint8_t keys[MAX_KEYS][32];

static double bench_puts(zhtp_store *s, size_t len, double secs, size_t *count)
{
    static uint8_t buf[65536];
    size_t n = 0;
    double t0 = now_s(), t = 0;
    do {
        fill(buf, len);
        zhtp_blake3_hash(keys[n], 32, buf, len);
        int err = zhtp_store_chunk_put(s, keys[n], buf, len, NULL, 0, 1);
        if (err) {
            fprintf(stderr, "put: %s\n", zhtp_strerror(err));
            exit(1);
        }
        n++;
        t = now_s() - t0;
    } while (t < secs && n < MAX_KEYS);
    *count = n;
    return (double)n / t;
}

static double bench_gets(zhtp_store *s, size_t nkeys, size_t len, double secs)
{
    static uint8_t buf[65536];
    size_t n = 0;
    double t0 = now_s(), t = 0;
    do {
        for (int j = 0; j < 64; j++, n++)
            if (zhtp_store_chunk_get(s, keys[n % nkeys], buf, sizeof buf) != (zhtp_ssize)len) {
                fprintf(stderr, "get failed\n");
                exit(1);
            }
        t = now_s() - t0;
    } while (t < secs);
    return (double)n / t;
}

static double bench_fdatasync(const char *dir, double secs)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    uint8_t page[4096];
    fill(page, sizeof page);
    size_t n = 0;
    double t0 = now_s(), t = 0;
    do {
        if (pwrite(fd, page, sizeof page, (off_t)(n % 16) * 4096) != (ssize_t)sizeof page ||
            fdatasync(fd) != 0)
            break;
        n++;
        t = now_s() - t0;
    } while (t < secs);
    close(fd);
    unlink(path);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    const char *base = argc > 2 ? argv[2] : "/tmp";
    if (secs <= 0 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: store_bench [seconds per measurement] [base directory]\n");
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/zhtp-store-bench-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    zhtp_store_config cfg = {.quota_bytes = ZHTP_STORE_NO_LIMIT,
                             .quota_records = ZHTP_STORE_NO_LIMIT,
                             .quota_peer_bytes = ZHTP_STORE_NO_LIMIT};
    zhtp_store *s;
    int err = zhtp_store_open(&s, dir, &cfg);
    if (err) {
        fprintf(stderr, "open: %s\n", zhtp_strerror(err));
        return 1;
    }
    printf("store_bench: %s, %.1f s per measurement, blake3 %s\n", dir, secs, zhtp_blake3_impl());
    double fs = bench_fdatasync(dir, secs);
    printf("%-34s %10.0f /s\n", "raw 4 KiB write+fdatasync", fs);
    size_t sizes[] = {1024, 65536};
    for (int i = 0; i < 2; i++) {
        size_t n;
        double p = bench_puts(s, sizes[i], secs, &n);
        printf("chunk put %5zu B (durable)         %10.0f /s  (%.2f x fdatasync, %.1f MiB/s)\n",
               sizes[i], p, p / fs, p * (double)sizes[i] / 1048576.0);
        double g = bench_gets(s, n, sizes[i], secs);
        printf("chunk get %5zu B (BLAKE3 checked)  %10.0f /s  (%.1f MiB/s, %zu keys)\n", sizes[i],
               g, g * (double)sizes[i] / 1048576.0, n);
    }
    /* Batches of 64 x 1 KiB: one commit each (zhtp_store_chunk_put_many). */
    {
        static uint8_t bbuf[64][1024];
        zhtp_store_chunk_in in[64];
        size_t nb = 0;
        double t0 = now_s(), t = 0;
        do {
            for (int j = 0; j < 64; j++) {
                fill(bbuf[j], sizeof bbuf[j]);
                zhtp_blake3_hash(keys[j], 32, bbuf[j], sizeof bbuf[j]);
                in[j] = (zhtp_store_chunk_in){keys[j], bbuf[j], sizeof bbuf[j]};
            }
            if (zhtp_store_chunk_put_many(s, in, 64, NULL, 0, 1) != 0)
                break;
            nb++;
            t = now_s() - t0;
        } while (t < secs);
        printf("chunk put  1024 B, batches of 64     %10.0f /s  (%.1f MiB/s)\n",
               (double)nb * 64 / t, (double)nb * 64 / t / 1024.0);
    }
    uint8_t val[200], rk[32] = {0};
    fill(val, sizeof val);
    size_t n = 0;
    double t0 = now_s(), t = 0;
    do {
        zhtp_store_record rec = {n + 1, 0, val, 64, val + 64, 100};
        memcpy(rk, &n, sizeof n);
        rk[31] = (uint8_t)(n & 7); /* spread over keys, some replacing */
        if (zhtp_store_record_put(s, rk, &rec, NULL, 1) != 0)
            break;
        n++;
        t = now_s() - t0;
    } while (t < secs);
    printf("%-34s %10.0f /s\n", "record put 164 B (durable)", (double)n / t);
    zhtp_store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
