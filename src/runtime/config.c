/* zhtpd options: INI file and command-line flags share one set of keys (docs/zhtpd.conf.md). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "runtime.h"
#include "tun.h"

void zhtp_rt_options_init(zhtp_rt_options *o)
{
    memset(o, 0, sizeof *o);
    o->log_level = ZHTP_RT_LOG_INFO;
    o->tun_mtu = ZHTP_RT_TUN_MTU_DEFAULT;
    o->tun_offload = true;
}

/* An MTU value: 1280 (the IPv6 minimum) to 65535 (the largest packet without jumbograms); for
 * tun_mesh_mtu also 0 (same as tun_mtu). */
static int parse_mtu(const char *key, const char *val, bool zero_ok, uint32_t *out, char *err,
                     size_t err_cap)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(val, &end, 10);
    if (val[0] == '\0' || val[0] == '-' || *end != '\0' || errno != 0 ||
        ((v < 1280 || v > 65535) && !(zero_ok && v == 0))) {
        snprintf(err, err_cap, "%s: expected 1280..65535%s, got '%s'", key, zero_ok ? " or 0" : "",
                 val);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int zhtp_rt_parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int zhtp_rt_parse_addr(const char *s, struct sockaddr_storage *out)
{
    char host[ZHTP_RT_ADDR_STR];
    const char *colon;
    size_t hl;
    memset(out, 0, sizeof *out);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        hl = (size_t)(end - s - 1);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, s + 1, hl);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        hl = (size_t)(colon - s);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, s, hl);
    }
    host[hl] = '\0';
    char *endp;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &endp, 10);
    if (colon[1] == '\0' || *endp != '\0' || errno != 0 || port > 65535)
        return -1;
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -1;
}

static int copy_str(char *dst, size_t cap, const char *val, const char *key, char *err,
                    size_t err_cap)
{
    if (strlen(val) >= cap) {
        snprintf(err, err_cap, "%s: value too long", key);
        return -1;
    }
    strcpy(dst, val);
    return 0;
}

static int parse_bool(const char *v)
{
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
        return 1;
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
        return 0;
    return -1;
}

int zhtp_rt_options_set(zhtp_rt_options *o, const char *key, const char *val, char *err,
                        size_t err_cap)
{
    struct sockaddr_storage ss;
    if (strcmp(key, "data_dir") == 0)
        return copy_str(o->data_dir, sizeof o->data_dir, val, key, err, err_cap);
    if (strcmp(key, "passphrase_file") == 0)
        return copy_str(o->passphrase_file, sizeof o->passphrase_file, val, key, err, err_cap);
    if (strcmp(key, "control") == 0)
        return copy_str(o->control, sizeof o->control, val, key, err, err_cap);
    if (strcmp(key, "tun") == 0) {
        if (val[0] == '\0' || strlen(val) >= sizeof o->tun || strchr(val, '/') != NULL ||
            strchr(val, ' ') != NULL) {
            snprintf(err, err_cap, "tun: expected an interface name of 1..15 bytes, got '%s'", val);
            return -1;
        }
        return copy_str(o->tun, sizeof o->tun, val, key, err, err_cap);
    }
    if (strcmp(key, "udp_mtu") == 0) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (val[0] == '\0' || val[0] == '-' || *end != '\0' || errno != 0 ||
            (v != 0 && (v < 1280 || v > 65507))) {
            snprintf(err, err_cap, "%s: expected 0 or 1280..65507, got '%s'", key, val);
            return -1;
        }
        o->udp_mtu = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "tun_mtu") == 0)
        return parse_mtu(key, val, false, &o->tun_mtu, err, err_cap);
    if (strcmp(key, "tun_mesh_mtu") == 0)
        return parse_mtu(key, val, true, &o->tun_mesh_mtu, err, err_cap);
    if (strcmp(key, "no_tun") == 0) {
        int b = parse_bool(val);
        if (b < 0) {
            snprintf(err, err_cap, "%s: expected true or false, got '%s'", key, val);
            return -1;
        }
        o->no_tun = b != 0;
        return 0;
    }
    if (strcmp(key, "tun_offload") == 0) {
        int b = parse_bool(val);
        if (b < 0) {
            snprintf(err, err_cap, "%s: expected true or false, got '%s'", key, val);
            return -1;
        }
        o->tun_offload = b != 0;
        return 0;
    }
    if (strcmp(key, "dev_no_passphrase") == 0 || strcmp(key, "no_control") == 0) {
        int b = parse_bool(val);
        if (b < 0) {
            snprintf(err, err_cap, "%s: expected true or false, got '%s'", key, val);
            return -1;
        }
        if (key[0] == 'n')
            o->no_control = b != 0;
        else
            o->dev_no_passphrase = b != 0;
        return 0;
    }
    if (strcmp(key, "listen") == 0 || strcmp(key, "peer") == 0 || strcmp(key, "http") == 0) {
        if (zhtp_rt_parse_addr(val, &ss) != 0) {
            snprintf(err, err_cap, "%s: '%s' is not ADDR:PORT or [V6ADDR]:PORT", key, val);
            return -1;
        }
        if (key[0] == 'h')
            return copy_str(o->http, sizeof o->http, val, key, err, err_cap);
        bool is_listen = key[0] == 'l';
        size_t *n = is_listen ? &o->n_listen : &o->n_peer;
        size_t max = is_listen ? ZHTP_RT_MAX_LISTEN : ZHTP_RT_MAX_PEERS;
        if (*n >= max) {
            snprintf(err, err_cap, "%s: more than %zu given", key, max);
            return -1;
        }
        char *dst = is_listen ? o->listen[*n] : o->peer[*n];
        if (copy_str(dst, ZHTP_RT_ADDR_STR, val, key, err, err_cap) != 0)
            return -1;
        (*n)++;
        return 0;
    }
    if (strcmp(key, "discovery") == 0) {
        if (strcmp(val, "on") == 0 || parse_bool(val) == 1)
            o->no_discovery = false;
        else if (strcmp(val, "off") == 0 || parse_bool(val) == 0)
            o->no_discovery = true;
        else {
            snprintf(err, err_cap, "discovery: expected on or off, got '%s'", val);
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "discovery_interfaces") == 0) {
        for (const char *p = val; *p; p++)
            if (*p == ' ' || *p == '/' || *p == '%') {
                snprintf(err, err_cap, "discovery_interfaces: expected NAME[,NAME...], got '%s'",
                         val);
                return -1;
            }
        return copy_str(o->discovery_interfaces, sizeof o->discovery_interfaces, val, key, err,
                        err_cap);
    }
    if (strcmp(key, "discovery_interval_ms") == 0) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (val[0] == '\0' || val[0] == '-' || *end != '\0' || errno != 0 || v < 100 ||
            v > 3600000) {
            snprintf(err, err_cap, "discovery_interval_ms: expected 100..3600000, got '%s'", val);
            return -1;
        }
        o->discovery_interval_ms = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "content_max") == 0 || strcmp(key, "store_quota") == 0 ||
        strcmp(key, "store_quota_peer") == 0) {
        /* bytes, with an optional K, M or G suffix (powers of 1024) */
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
        if (shift != 0)
            end++;
        if (val[0] == '\0' || val[0] == '-' || *end != '\0' || errno != 0 || v == 0 ||
            v > (UINT64_C(1) << (40 - shift))) {
            snprintf(err, err_cap, "%s: expected a byte count 1..2^40 (K, M, G allowed), got '%s'",
                     key, val);
            return -1;
        }
        uint64_t *dst = key[0] == 'c'                          ? &o->content_max
                        : strcmp(key, "store_quota_peer") == 0 ? &o->store_quota_peer
                                                               : &o->store_quota;
        *dst = (uint64_t)v << shift;
        return 0;
    }
    if (strcmp(key, "log_level") == 0) {
        int l = zhtp_rt_parse_level(val);
        if (l < 0) {
            snprintf(err, err_cap, "%s: expected error, warn, info or debug, got '%s'", key, val);
            return -1;
        }
        o->log_level = l;
        return 0;
    }
    snprintf(err, err_cap, "unknown key '%s'", key);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int zhtp_rt_options_load(zhtp_rt_options *o, const char *path, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024], msg[256];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';' || *s == '[')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, err_cap, "%s:%u: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (zhtp_rt_options_set(o, trim(s), trim(eq + 1), msg, sizeof msg) != 0) {
            snprintf(err, err_cap, "%s:%u: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}
