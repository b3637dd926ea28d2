/* Version negotiation (docs/protocol.md "Version negotiation").
 *
 * Only magic (bytes 0..3) and the version byte (byte 4) are the same in every version, so
 * the reply to an unknown version reads nothing else. It goes out as version 0, which every
 * version recognises as "negotiation" and never answers: two nodes with no common version
 * exchange one reply each, never a loop. */
#include <string.h>

#include "zhtp/wire.h"
#include "wire/bytes.h"

zhtp_ssize zhtp_wire_version_mismatch_build(uint8_t *out, size_t cap, const uint8_t *in,
                                            size_t in_len, const uint8_t local_id[ZHTP_NODE_ID_LEN],
                                            uint64_t message_id, const uint8_t *versions,
                                            size_t n_versions)
{
    if (!in || !local_id || in_len < 5 || get_u32(in) != ZHTP_WIRE_MAGIC)
        return ZHTP_ERR_INVAL;
    if (n_versions == 0 || n_versions > ZHTP_WIRE_MAX_VERSIONS || !versions)
        return ZHTP_ERR_INVAL;
    uint8_t theirs = in[4];
    if (theirs == ZHTP_WIRE_VERSION_NEGOTIATION)
        return ZHTP_ERR_INVAL;
    for (size_t i = 0; i < n_versions; i++)
        if (versions[i] == theirs)
            return ZHTP_ERR_INVAL;

    zhtp_wire_payload p;
    memset(&p, 0, sizeof p);
    p.operation = ZHTP_WIRE_OP_ERROR;
    p.u.error.code = ZHTP_WIRE_ERROR_VERSION_MISMATCH;
    p.u.error.version_count = (uint8_t)n_versions;
    p.u.error.versions = versions;

    uint8_t payload[64];
    zhtp_ssize plen = zhtp_wire_payload_encode(payload, sizeof payload, &p);
    if (plen < 0)
        return plen == ZHTP_ERR_WIRE_FIELD ? ZHTP_ERR_INVAL : plen;

    size_t total = ZHTP_WIRE_HEADER_LEN + (size_t)plen;
    /* An off-path sender could spoof a tiny packet to make us send 140+ bytes to a victim;
     * answering only packets at least as long as the answer removes the amplification. */
    if (in_len < total)
        return ZHTP_ERR_WIRE_TRUNCATED;
    if (cap < total)
        return ZHTP_ERR_NOBUF;

    zhtp_wire_header h;
    memset(&h, 0, sizeof h);
    h.version = ZHTP_WIRE_VERSION_NEGOTIATION;
    h.operation = ZHTP_WIRE_OP_ERROR;
    h.hop_limit = 1;
    h.route_bound = ZHTP_WIRE_ROUTE_BOUND_NONE;
    h.payload_len = (uint32_t)plen;
    memcpy(h.sender, local_id, ZHTP_NODE_ID_LEN);
    h.message_id = message_id;
    zhtp_ssize hl = zhtp_wire_header_encode(out, cap, &h);
    if (hl < 0)
        return hl;
    memcpy(out + hl, payload, (size_t)plen);
    return (zhtp_ssize)total;
}

int zhtp_wire_version_pick(const uint8_t *ours, size_t n_ours, const uint8_t *theirs,
                           size_t n_theirs)
{
    int best = ZHTP_ERR_WIRE_VERSION;
    for (size_t i = 0; i < n_ours; i++) {
        if (ours[i] == 0 || (best > 0 && ours[i] <= best))
            continue;
        for (size_t j = 0; j < n_theirs; j++)
            if (theirs[j] == ours[i]) {
                best = ours[i];
                break;
            }
    }
    return best;
}
