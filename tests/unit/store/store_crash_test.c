/* store/ durability under SIGKILL. A child process loops chunk and record puts and writes
 * each one's description to a pipe only after the put returned (the acknowledgement); the
 * parent kills it with SIGKILL at a seeded random point, reopens the store, and checks that
 * every acknowledged put is present and intact, that records never went back to an older
 * sequence, and that the put in flight at the kill is either absent or intact (never
 * corrupt). Many rounds on one directory, so later rounds also open stores that earlier kills
 * interrupted.
 *
 * Seeded: ZHTP_STORE_CRASH_SEED=N reproduces a run's operations and kill choices (the exact
 * instant of the kill still depends on timing). What this proves is process-crash atomicity
 * and that an acknowledgement means committed; power-loss durability additionally rests on
 * LMDB's fdatasync at commit, which a process kill cannot exercise. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "zhtp/blake3.h"
#include "zhtp/store.h"

#define ROUNDS    120
#define REC_KEYS  32
#define MAX_ACKED (ROUNDS * 64)
#define CHUNK_BIG 65536
#define NOW       1000000

typedef struct ack {
    char type; /* 'C' chunk, 'R' record */
    uint32_t round, i;
    uint64_t seq; /* records */
    uint32_t rec_key;
} ack;

static uint64_t g_seed;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Operation i of round: everything about it follows from (seed, round, i). */
static void op_rng(zt_rng *r, uint32_t round, uint32_t i)
{
    zt_rng_seed(r, g_seed ^ ((uint64_t)round << 32) ^ i);
}

static size_t gen_chunk(uint32_t round, uint32_t i, uint8_t *buf, uint8_t key[32])
{
    zt_rng r;
    op_rng(&r, round, i);
    zt_rng_u64(&r); /* the type draw */
    size_t len = zt_rng_below(&r, 8) == 0 ? CHUNK_BIG : 1 + zt_rng_below(&r, 8192);
    zt_rng_bytes(&r, buf, len);
    zhtp_blake3_hash(key, 32, buf, len);
    return len;
}

static bool op_is_chunk(uint32_t round, uint32_t i)
{
    zt_rng r;
    op_rng(&r, round, i);
    return zt_rng_u64(&r) % 10 < 7;
}

/* A record's value is a function of its sequence, so any stored record can be checked. */
static size_t gen_value(uint64_t seq, uint8_t *buf)
{
    zt_rng r;
    zt_rng_seed(&r, g_seed ^ (seq * 0x9E3779B97F4A7C15u));
    size_t len = 1 + zt_rng_below(&r, 600);
    zt_rng_bytes(&r, buf, len);
    return len;
}

static void rec_key(uint32_t idx, uint8_t key[32])
{
    memset(key, 0, 32);
    key[0] = 0x5E;
    key[31] = (uint8_t)idx;
}

static uint32_t rec_key_of(uint32_t round, uint32_t i)
{
    zt_rng r;
    op_rng(&r, round, i);
    zt_rng_u64(&r);
    return (uint32_t)zt_rng_below(&r, REC_KEYS);
}

static uint64_t seq_of(uint32_t round, uint32_t i)
{
    return (uint64_t)round * 100000 + i + 1; /* increases across rounds: always newer */
}

static void child_main(const char *dir, uint32_t round, int fd)
{
    zhtp_store *s;
    if (zhtp_store_open(&s, dir, NULL) != 0)
        _exit(10);
    static uint8_t buf[CHUNK_BIG];
    for (uint32_t i = 0; i < 5000; i++) {
        char line[96];
        int n;
        if (op_is_chunk(round, i)) {
            uint8_t key[32];
            size_t len = gen_chunk(round, i, buf, key);
            if (zhtp_store_chunk_put(s, key, buf, len, NULL, 0, NOW) != 0)
                _exit(11);
            n = snprintf(line, sizeof line, "C %u %u\n", round, i);
        } else {
            uint8_t key[32];
            uint64_t seq = seq_of(round, i);
            rec_key(rec_key_of(round, i), key);
            zhtp_store_record rec = {seq, 0, (const uint8_t *)"sig", 3, buf, gen_value(seq, buf)};
            if (zhtp_store_record_put(s, key, &rec, NULL, NOW) != 0)
                _exit(12);
            n = snprintf(line, sizeof line, "R %u %u\n", round, i);
        }
        /* The acknowledgement: written only after the put returned. One write() of less
         * than PIPE_BUF bytes is atomic, so the parent never sees half a line. */
        if (write(fd, line, (size_t)n) != n)
            _exit(13);
    }
    zhtp_store_close(s);
    _exit(0);
}

/* Reads whole lines from fd into acks until want lines arrived (want < 0: until EOF). */
static int read_acks(int fd, char *pend, size_t *pend_len, ack *acks, int *nacks, int want)
{
    int got = 0;
    while (want < 0 || got < want) {
        ssize_t n = read(fd, pend + *pend_len, 255 - *pend_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *pend_len += (size_t)n;
        char *nl;
        while ((nl = memchr(pend, '\n', *pend_len)) != NULL) {
            *nl = 0;
            ack a = {0};
            unsigned round, i;
            if (sscanf(pend, "%c %u %u", &a.type, &round, &i) != 3)
                fail_msg("bad ack line '%s'", pend);
            a.round = round;
            a.i = i;
            if (a.type == 'R') {
                a.seq = seq_of(round, i);
                a.rec_key = rec_key_of(round, i);
            }
            if (*nacks >= MAX_ACKED)
                fail_msg("too many acks");
            acks[(*nacks)++] = a;
            got++;
            size_t used = (size_t)(nl - pend) + 1;
            memmove(pend, nl + 1, *pend_len - used);
            *pend_len -= used;
        }
    }
    return got;
}

static void verify(const char *dir, const ack *acks, int nacks, uint32_t round, uint32_t next_i)
{
    zhtp_store *s;
    int err = zhtp_store_open(&s, dir, NULL);
    if (err)
        fail_msg("round %u: reopen failed: %s", round, zhtp_strerror(err));
    static uint8_t want[CHUNK_BIG], got[CHUNK_BIG];
    uint64_t max_seq[REC_KEYS] = {0};
    for (int a = 0; a < nacks; a++) {
        if (acks[a].type == 'R') {
            if (acks[a].seq > max_seq[acks[a].rec_key])
                max_seq[acks[a].rec_key] = acks[a].seq;
            continue;
        }
        uint8_t key[32];
        size_t len = gen_chunk(acks[a].round, acks[a].i, want, key);
        zhtp_ssize n = zhtp_store_chunk_get(s, key, got, sizeof got);
        if (n != (zhtp_ssize)len || memcmp(got, want, len) != 0)
            fail_msg("round %u: acknowledged chunk (%u,%u) lost or damaged: %td (%s)", round,
                     acks[a].round, acks[a].i, n, n < 0 ? zhtp_strerror((int)n) : "wrong bytes");
    }
    for (uint32_t k = 0; k < REC_KEYS; k++) {
        uint8_t key[32];
        rec_key(k, key);
        zhtp_store_record rec;
        err = zhtp_store_record_get(s, key, NOW, &rec, got, sizeof got);
        if (err == ZHTP_ERR_NOTFOUND && max_seq[k] == 0)
            continue;
        if (err)
            fail_msg("round %u: record %u (acked seq %lu): %s", round, k, (unsigned long)max_seq[k],
                     zhtp_strerror(err));
        /* A newer put than the last acknowledged may have committed just before the kill. */
        if (rec.sequence < max_seq[k])
            fail_msg("round %u: record %u went back from %lu to %lu", round, k,
                     (unsigned long)max_seq[k], (unsigned long)rec.sequence);
        size_t len = gen_value(rec.sequence, want);
        if (rec.value_len != len || memcmp(rec.value, want, len) != 0 || rec.sig_len != 3 ||
            memcmp(rec.sig, "sig", 3) != 0)
            fail_msg("round %u: record %u seq %lu has the wrong bytes", round, k,
                     (unsigned long)rec.sequence);
    }
    /* The put in flight at the kill: absent or intact, never corrupt. */
    if (op_is_chunk(round, next_i)) {
        uint8_t key[32];
        size_t len = gen_chunk(round, next_i, want, key);
        zhtp_ssize n = zhtp_store_chunk_get(s, key, got, sizeof got);
        if (n != ZHTP_ERR_NOTFOUND && (n != (zhtp_ssize)len || memcmp(got, want, len) != 0))
            fail_msg("round %u: in-flight chunk served as %td", round, n);
    }
    zhtp_store_stats st;
    assert_int_equal(zhtp_store_get_stats(s, &st), 0);
    assert_int_equal(st.corrupt_removed, 0);
    zhtp_store_close(s);
}

static void acknowledged_puts_survive_sigkill_at_random_points(void **state)
{
    (void)state;
    const char *env = getenv("ZHTP_STORE_CRASH_SEED");
    g_seed = env ? strtoull(env, NULL, 0) : 0xC0FFEE;
    printf("# ZHTP_STORE_CRASH_SEED=%lu\n", (unsigned long)g_seed);
    char dir[] = "/tmp/zhtp-store-crash-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static ack acks[MAX_ACKED];
    int nacks = 0, kills = 0, mid_kills = 0;
    zt_rng r;
    zt_rng_seed(&r, g_seed);
    for (uint32_t round = 0; round < ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, round, fds[1]);
        }
        close(fds[1]);
        int before = nacks;
        /* Kill point: after 0..15 acknowledgements, then 0..3 ms into whatever comes next
         * (an open, a put, a commit's fsync). */
        int want = (int)zt_rng_below(&r, 16);
        char pend[256];
        size_t pend_len = 0;
        read_acks(fds[0], pend, &pend_len, acks, &nacks, want);
        struct timespec ts = {0, (long)zt_rng_below(&r, 3000) * 1000};
        nanosleep(&ts, NULL);
        int killed = kill(pid, SIGKILL) == 0;
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        read_acks(fds[0], pend, &pend_len, acks, &nacks, -1); /* acks written before death */
        close(fds[0]);
        if (WIFEXITED(status))
            fail_msg("round %u: child exited with %d (a put failed)", round, WEXITSTATUS(status));
        assert_true(killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        kills++;
        mid_kills += nacks > before;
        verify(dir, acks, nacks, round, (uint32_t)(nacks - before));
    }
    printf("# %d kills (%d after at least one put), %d acknowledged puts verified\n", kills,
           mid_kills, nacks);
    assert_true(kills >= 100);
    assert_true(mid_kills >= 50);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acknowledged_puts_survive_sigkill_at_random_points),
    };
    return cmocka_run_group_tests_name("store_crash", tests, NULL, NULL);
}
