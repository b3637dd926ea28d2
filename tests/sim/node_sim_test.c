/* Simulator scenarios: real node cores (include/zhtp/node.h) over zhtp-sim's virtual links.
 * Each scenario runs alone when its name is given as the first argument (meson registers one
 * test per scenario). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "testutil.h"

#define SEC ZHTP_NS_PER_SEC

static zsim *run_cfg(const zsim_config *c, zsim_result *r)
{
    zsim *s;
    assert_int_equal(zsim_new(&s, c), ZHTP_OK);
    zsim_run(s);
    zsim_result_get(s, r);
    return s;
}

static void sim_line10_delivers_end_to_end(void **state)
{
    (void)state;
    zsim_config c = {
        .topology = ZSIM_LINE, .n = 10, .seed = 11, .media = ZHTP_MEDIUM_UDP, .messages = 40};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_int_equal(r.messages_sent, 40);
    assert_int_equal(r.messages_delivered, 40);
    assert_int_equal(r.messages_acked, 40);
    /* On a line every path is the shortest path: stretch exactly 1, at most 9 hops. */
    assert_true(r.stretch_mean > 0.999 && r.stretch_mean < 1.001);
    assert_true(r.hops_p99 <= 9 && r.hops_p50 >= 1);
    assert_int_equal(r.rx_bad, 0);
    zsim_free(s);
}

static void sim_grid10x10_mixed_media_delivers_all(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 10,
                     .h = 10,
                     .seed = 5,
                     .media = ZSIM_MEDIA_MIXED,
                     .messages = 100};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_int_equal(r.nodes, 100);
    assert_int_equal(r.messages_sent, 100);
    assert_int_equal(r.messages_delivered, 100);
    assert_int_equal(r.messages_acked, 100);
    assert_true(r.stretch_mean >= 1.0 && r.stretch_mean < 3.0);
    assert_true(r.hops_p99 <= 64);
    zsim_free(s);
}

/* A 5x5 grid; a stream of reliable messages from corner 0 to corner 24. After 20 s the link
 * out of node 0 that carries the stream is cut; every message must still arrive, and the
 * stream must move to node 0's other link. */
static void sim_link_cut_mid_transfer_reroutes(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 5,
                     .h = 5,
                     .seed = 7,
                     .media = ZHTP_MEDIUM_UDP,
                     .max_time = 200 * SEC};
    zsim *s;
    assert_int_equal(zsim_new(&s, &c), ZHTP_OK);
    uint32_t e01 = zsim_edge_find(s, 0, 1), e05 = zsim_edge_find(s, 0, 5);
    assert_true(e01 != UINT32_MAX && e05 != UINT32_MAX);
    uint32_t first = 0, count = 0;
    for (zhtp_time t = 15 * SEC; t < 35 * SEC; t += 50 * ZHTP_NS_PER_MS, count++) {
        uint32_t mi = zsim_send_at(s, 0, 24, t, 200, true);
        if (count == 0)
            first = mi;
    }
    zsim_run_until(s, 15 * SEC);
    uint64_t f01 = zsim_edge_frames(s, e01), f05 = zsim_edge_frames(s, e05);
    zsim_run_until(s, 19 * SEC);
    uint64_t d01 = zsim_edge_frames(s, e01) - f01, d05 = zsim_edge_frames(s, e05) - f05;
    uint32_t used = d01 > d05 ? e01 : e05, other = used == e01 ? e05 : e01;
    assert_true((d01 > d05 ? d01 : d05) > 60); /* 80 messages went one way */
    zsim_cut_edge_at(s, used, 20 * SEC);
    zsim_run_until(s, 21 * SEC);
    uint64_t o_before = zsim_edge_frames(s, other);
    zsim_run_until(s, 200 * SEC);
    uint64_t o_after = zsim_edge_frames(s, other);
    for (uint32_t i = first; i < first + count; i++)
        assert_true(zsim_message_delivered(s, i, NULL));
    /* The ~280 messages after the cut (and retransmissions) crossed the other link. */
    assert_true(o_after - o_before > 250);
    zsim_result r;
    zsim_result_get(s, &r);
    assert_true(r.reroute_ms > 0 && r.reroute_ms < 10000);
    zsim_free(s);
}

/* LoRa only: 50 kbit/s, 222-byte frames, so every ~5 KB hybrid handshake is ~25 fragments
 * and queues fill; reliable messages must still all arrive. */
static void sim_lora_grid_reliable_messages_all_delivered(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 5,
                     .h = 5,
                     .seed = 2,
                     .media = ZHTP_MEDIUM_LORA,
                     .messages = 50};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_int_equal(r.messages_sent, 50);
    assert_int_equal(r.messages_delivered, 50);
    assert_int_equal(r.messages_acked, 50);
    zsim_free(s);
}

/* All-LoRa lines: every link is narrow, so every DATA packet travels with a compressed header
 * (zero full-header DATA), everything is delivered, and the overhead is measured from the
 * nodes' counters. One link (line:2): every DATA packet is a first hop between neighbours:
 * dispatch 2 + receiver index 1 (the per-link alias of the random 32-bit session index) +
 * counter 1 + message id 8 + DATA sub-header 4 + tag 16 = 32 bytes (the target). Relayed packets (line:3) also carry origin and
 * destination ids and the hop fields inline, so their mean is higher but still far below the
 * 148 bytes of a full header. Same seed, same trace. */
static double overhead_compressed(const zsim_result *r)
{
    return (double)r->data_tx_compressed_overhead / (double)r->data_tx_compressed;
}

static void sim_lora_compressed_headers_deliver_all(void **state)
{
    (void)state;
    zsim_config c = {
        .topology = ZSIM_LINE, .n = 2, .seed = 1, .media = ZHTP_MEDIUM_LORA, .messages = 20};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_int_equal(r.messages_delivered, 20);
    assert_int_equal(r.messages_acked, 20);
    assert_int_equal(r.data_tx_full, 0);
    assert_true(r.data_tx_compressed >= 40); /* 20 messages and 20 acks at least */
    assert_true(r.rx_compressed >= r.data_tx_compressed);
    double one_hop = overhead_compressed(&r);
    print_message("# line:2 LoRa: %.2f bytes of overhead per DATA packet\n", one_hop);
    assert_true(one_hop <= 32.0);
    zsim_free(s);

    c.n = 3;
    s = run_cfg(&c, &r);
    uint64_t digest = r.trace_digest;
    assert_int_equal(r.messages_delivered, 20);
    assert_int_equal(r.messages_acked, 20);
    assert_int_equal(r.data_tx_full, 0);
    assert_int_equal(r.drop_route_bound, 0);
    double mixed = overhead_compressed(&r);
    print_message("# line:3 LoRa: %.2f bytes of overhead per DATA packet\n", mixed);
    assert_true(mixed > one_hop && mixed < 148.0);
    zsim_free(s);
    s = run_cfg(&c, &r);
    assert_int_equal(r.trace_digest, digest);
    zsim_free(s);

    c.media = ZHTP_MEDIUM_UDP; /* wide links keep the full header */
    s = run_cfg(&c, &r);
    assert_int_equal(r.messages_delivered, 20);
    assert_int_equal(r.data_tx_compressed, 0);
    assert_int_equal(r.rx_compressed, 0);
    assert_true(r.data_tx_full >= 40);
    assert_int_equal(r.data_tx_full_overhead, 148 * r.data_tx_full);
    zsim_free(s);
}

typedef struct sniff {
    uint8_t pattern[48];
    uint32_t relay;
    int seen_at_relay; /* frames to or from the relay that contain the plaintext */
    int frames;
} sniff;

static void sniff_frame(void *ud, uint32_t from, uint32_t to, const uint8_t *f, size_t len)
{
    sniff *sn = ud;
    if (from != sn->relay && to != sn->relay)
        return;
    sn->frames++;
    for (size_t i = 0; i + sizeof sn->pattern <= len; i++)
        if (memcmp(f + i, sn->pattern, sizeof sn->pattern) == 0) {
            sn->seen_at_relay++;
            return;
        }
}

/* 0 - 1 - 2: a message from 0 to 2 crosses relay 1. Every frame in or out of the relay is
 * searched for the plaintext: with sessions it must never appear; the same run in plaintext
 * mode must show it (so the search itself works). */
static int relay_sees_plaintext(bool plaintext)
{
    zsim_config c = {.topology = ZSIM_LINE,
                     .n = 3,
                     .seed = 21,
                     .media = ZHTP_MEDIUM_UDP,
                     .plaintext = plaintext};
    zsim *s;
    assert_int_equal(zsim_new(&s, &c), ZHTP_OK);
    sniff sn = {.relay = 1};
    uint32_t mi = zsim_send_at(s, 0, 2, 15 * SEC, 200, true);
    for (size_t k = 0; k < sizeof sn.pattern; k++)
        sn.pattern[k] = (uint8_t)(mi + k + 100); /* body bytes 100..147 */
    zsim_set_frame_hook(s, sniff_frame, &sn);
    zsim_run(s);
    assert_true(zsim_message_delivered(s, mi, NULL));
    assert_true(sn.frames > 0);
    zsim_free(s);
    return sn.seen_at_relay;
}

static void sim_relay_never_sees_plaintext(void **state)
{
    (void)state;
    assert_int_equal(relay_sees_plaintext(false), 0);
    assert_true(relay_sees_plaintext(true) > 0);
}

/* A node dies mid-run: traffic between the survivors goes around it. */
static void sim_node_killed_traffic_reroutes(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 6,
                     .h = 6,
                     .seed = 3,
                     .media = ZHTP_MEDIUM_UDP,
                     .messages = 100,
                     .kill_at = 18 * SEC};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_true(r.messages_sent >= 90);
    assert_int_equal(r.messages_delivered, r.messages_sent);
    assert_int_equal(r.messages_failed, 0);
    assert_true(r.reroute_ms > 0 && r.reroute_ms < 10000);
    zsim_free(s);
}

/* Churn with mixed media: a relay dies at 20 s while 200 reliable messages flow. While the
 * tree repairs, some forwarders hold stale coordinates; the loop-freedom bound each packet
 * carries stops those packets at the first hop that cannot lower it (drop_route_bound), none
 * runs into the hop limit, and the end-to-end retransmissions still deliver everything. */
static void sim_churn_route_bound_stops_stale_forwarding(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_RANDOM,
                     .n = 200,
                     .degree = 3,
                     .seed = 3,
                     .media = ZSIM_MEDIA_MIXED,
                     .messages = 200,
                     .kill_at = 20 * SEC};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_true(r.messages_sent >= 190);
    assert_int_equal(r.messages_delivered, r.messages_sent);
    assert_int_equal(r.messages_failed, 0);
    assert_int_equal(r.drop_hop_limit, 0);
    assert_true(r.drop_route_bound >= 1);
    zsim_free(s);
}

static void sim_loss30_reliable_messages_all_delivered(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_GRID,
                     .w = 3,
                     .h = 3,
                     .seed = 3,
                     .media = ZHTP_MEDIUM_UDP,
                     .loss_ppm = 300000,
                     .messages = 50,
                     .max_time = 900 * SEC};
    zsim_result r;
    zsim *s = run_cfg(&c, &r);
    assert_int_equal(r.messages_sent, 50);
    assert_int_equal(r.messages_delivered, 50);
    assert_true(r.frames_lost > r.frames_on_wire / 5); /* the loss really happened */
    assert_true(r.retransmits > 0);
    zsim_free(s);
}

static char *json_of(const zsim_config *c)
{
    zsim_result r;
    zsim *s = run_cfg(c, &r);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    zsim_result_json(&r, c, f);
    fclose(f);
    zsim_free(s);
    return buf;
}

static void sim_same_seed_same_json_other_seed_other_trace(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_RANDOM,
                     .n = 40,
                     .degree = 3,
                     .seed = 99,
                     .media = ZSIM_MEDIA_MIXED,
                     .messages = 30,
                     .loss_ppm = 50000,
                     .cut_at = 20 * SEC};
    char *a = json_of(&c), *b = json_of(&c);
    assert_string_equal(a, b);
    c.seed = 100;
    char *d = json_of(&c);
    const char *ta = strstr(a, "\"trace_digest\""), *td = strstr(d, "\"trace_digest\"");
    assert_non_null(ta);
    assert_non_null(td);
    assert_true(strncmp(ta, td, 36) != 0);
    free(a);
    free(b);
    free(d);
}

/* Idle nodes wake only for their timers: beacons (1/s per link), router refresh (one per 2 s)
 * and neighbour expiry. A core that asked to be woken every millisecond would fail this. */
static void sim_idle_network_wakes_only_for_timers(void **state)
{
    (void)state;
    zsim_config c = {.topology = ZSIM_LINE, .n = 3, .seed = 1, .media = ZHTP_MEDIUM_UDP};
    zsim *s;
    assert_int_equal(zsim_new(&s, &c), ZHTP_OK);
    zsim_run_until(s, 120 * SEC);
    zsim_result r;
    zsim_result_get(s, &r);
    assert_int_equal(r.busy_wakeups, 0);
    for (uint32_t i = 0; i < 3; i++) {
        uint64_t w = zsim_node_wakeups(s, i);
        assert_true(w >= 60);      /* it does run its timers */
        assert_true(w <= 120 * 6); /* and nothing more than a few per second */
    }
    zsim_free(s);
}

/* Lossy LoRa (10 % of frames lost, line:3): handshakes of 30+ fragments used to need every
 * fragment of one copy (0.9^31 = 4 %), then, once the loss was measured, two copies of each
 * that no longer fitted in the radio's 2 s queue, and every retry (1 s, shorter than the
 * handshake's airtime) restarted from scratch: 0/20 delivered. With pacing on narrow links,
 * superseded handshake frames dropped, and copies per fragment chosen from the fragment
 * count, every reliable message arrives and is acknowledged, on several seeds, with nothing
 * tail-dropped by the radio queue. */
static void sim_lossy_lora_line_delivers_reliable_messages(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        zsim_config c = {.topology = ZSIM_LINE,
                         .n = 3,
                         .seed = seed,
                         .media = ZHTP_MEDIUM_LORA,
                         .loss_ppm = 100000,
                         .messages = 20};
        zsim_result r;
        zsim *s = run_cfg(&c, &r);
        print_message("# seed %llu: %llu/%llu delivered, %llu acked, %llu frames lost, "
                      "%llu queue-dropped, %llu superseded, %.1f s\n",
                      (unsigned long long)seed, (unsigned long long)r.messages_delivered,
                      (unsigned long long)r.messages_sent, (unsigned long long)r.messages_acked,
                      (unsigned long long)r.frames_lost, (unsigned long long)r.frames_queue_dropped,
                      (unsigned long long)r.tx_superseded, (double)r.end_time / 1e9);
        assert_int_equal(r.messages_sent, 20);
        assert_true(r.frames_lost > 0); /* the loss is real */
        assert_true(r.messages_delivered * 100 >= 95 * r.messages_sent);
        assert_int_equal(r.messages_delivered, 20);
        assert_int_equal(r.messages_acked, 20);
        assert_int_equal(r.frames_queue_dropped, 0);
        assert_int_equal(r.busy_wakeups, 0);
        assert_int_equal(r.data_tx_full, 0);
        zsim_free(s);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_line10_delivers_end_to_end),
        cmocka_unit_test(sim_grid10x10_mixed_media_delivers_all),
        cmocka_unit_test(sim_link_cut_mid_transfer_reroutes),
        cmocka_unit_test(sim_lora_grid_reliable_messages_all_delivered),
        cmocka_unit_test(sim_lora_compressed_headers_deliver_all),
        cmocka_unit_test(sim_churn_route_bound_stops_stale_forwarding),
        cmocka_unit_test(sim_node_killed_traffic_reroutes),
        cmocka_unit_test(sim_relay_never_sees_plaintext),
        cmocka_unit_test(sim_loss30_reliable_messages_all_delivered),
        cmocka_unit_test(sim_lossy_lora_line_delivers_reliable_messages),
        cmocka_unit_test(sim_same_seed_same_json_other_seed_other_trace),
        cmocka_unit_test(sim_idle_network_wakes_only_for_timers),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
