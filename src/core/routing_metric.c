/* Link cost per medium: what a hop over this link costs a 1 KiB packet, in ~us. The numbers of
 * the presets are typical datasheet values (docs/routing.md, "Link metric"), not measurements;
 * measured RTT and loss replace the defaults as soon as the session layer has them. */
#include "zhtp/routing.h"

static const zhtp_route_medium presets[ZHTP_MEDIUM_COUNT_] = {
    /* Internet or LAN UDP: mains powered, latency dominated by the path. */
    [ZHTP_MEDIUM_UDP] = {"udp", 100000000u, 10000u, 1000u, 5u, 0u, 1280u},
    /* BLE 1M PHY, L2CAP CoC: ~15 ms connection interval, ~10 mW radio. */
    [ZHTP_MEDIUM_BLE] = {"ble", 1000000u, 15000u, 10000u, 80u, 0u, 247u},
    /* WiFi Direct: ~250 Mbit/s, ~1 W radio, a few ms. */
    [ZHTP_MEDIUM_WIFI_DIRECT] = {"wifi-direct", 250000000u, 2000u, 5000u, 30u, 0u, 1500u},
    /* LoRa at the top of its range (~50 kbit/s), 100 mW, EU868 1 % duty cycle. */
    [ZHTP_MEDIUM_LORA] = {"lora", 50000u, 50000u, 20000u, 16000u, 10000u, 222u},
    /* Satellite uplink: 100 Mbit/s, geostationary latency, ~50 W terminal. */
    [ZHTP_MEDIUM_SATELLITE] = {"satellite", 100000000u, 300000u, 5000u, 4000u, 0u, 1400u},
};

const zhtp_route_medium *zhtp_route_medium_preset(zhtp_route_medium_kind kind)
{
    if ((unsigned)kind >= ZHTP_MEDIUM_COUNT_)
        return NULL;
    return &presets[kind];
}

#define REF_BYTES 1024u

uint32_t zhtp_route_link_cost(const zhtp_route_medium *m, uint32_t rtt_us, uint32_t loss_ppm)
{
    if (!m)
        return ZHTP_ROUTE_COST_MAX;
    uint64_t latency = rtt_us ? rtt_us / 2u : m->latency_us;
    uint64_t bw = m->bandwidth_bps ? m->bandwidth_bps : 1u;
    /* Airtime of the reference packet; a duty-cycled medium can only send that share of the
     * time, so its effective airtime grows by 1/duty. */
    uint64_t air = (uint64_t)REF_BYTES * 8u * 1000000u / bw;
    if (m->duty_cycle_ppm && m->duty_cycle_ppm < 1000000u)
        air = air * 1000000u / m->duty_cycle_ppm;
    /* Energy: 1 uJ counts like 1 us, so battery radios are avoided when a mains link exists. */
    uint64_t energy = (uint64_t)m->energy_nj_per_byte * REF_BYTES / 1000u;
    uint64_t cost = latency + air + energy;
    if (cost > ZHTP_ROUTE_COST_MAX)
        cost = ZHTP_ROUTE_COST_MAX;
    uint64_t loss = loss_ppm == UINT32_MAX ? m->loss_ppm : loss_ppm;
    if (loss > 900000u)
        loss = 900000u;
    /* Expected transmissions 1/(1-loss) (ETX, as Babel and OLSR use). cost <= 2^26 here. */
    cost = cost * 1000000u / (1000000u - loss);
    if (cost < 1)
        cost = 1;
    if (cost > ZHTP_ROUTE_COST_MAX)
        cost = ZHTP_ROUTE_COST_MAX;
    return (uint32_t)cost;
}
