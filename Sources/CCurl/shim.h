#ifndef GG_CCURL_SHIM_H
#define GG_CCURL_SHIM_H
#include <curl/curl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/// Which addresses a transfer may connect to: with deny_private set, none of loopback, private,
/// link-local (cloud metadata), unique-local, carrier-grade NAT, multicast, documentation, reserved or
/// unspecified addresses, except the `allowed` ones on their `allowed_ports` (0: any port; -1: the web's,
/// 80 and 443). `blocked` records the first address refused.
typedef struct gg_socket_policy {
    int deny_private;
    int allowed_count;
    struct sockaddr_storage allowed[16];
    int allowed_ports[16];
    int blocked;
    char blocked_address[INET6_ADDRSTRLEN];
} gg_socket_policy;

static inline int gg_ipv4_forbidden(uint32_t host) {
    uint8_t a = host >> 24, b = (host >> 16) & 0xff, c = (host >> 8) & 0xff;
    return a == 0 || a == 10 || a == 127 || (a == 100 && (b & 0xc0) == 64) || (a == 169 && b == 254) ||
           (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) || (a == 192 && b == 0 && (c == 0 || c == 2)) ||
           (a == 192 && b == 88 && c == 99) || (a == 198 && (b & 0xfe) == 18) || (a == 198 && b == 51 && c == 100) ||
           (a == 203 && b == 0 && c == 113) || a >= 224;
}

/// Whether `address` is one a transfer with deny_private may not reach.
static inline int gg_sockaddr_forbidden(const struct sockaddr *address) {
    if (address->sa_family == AF_INET) return gg_ipv4_forbidden(ntohl(((const struct sockaddr_in *)address)->sin_addr.s_addr));
    if (address->sa_family != AF_INET6) return 1;
    const uint8_t *x = ((const struct sockaddr_in6 *)address)->sin6_addr.s6_addr;
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[10] = {0};
    if (memcmp(x, nat64, 12) == 0)
        return gg_ipv4_forbidden((uint32_t)x[12] << 24 | (uint32_t)x[13] << 16 | (uint32_t)x[14] << 8 | x[15]);
    if (memcmp(x, zero, 10) == 0) return 1;             /* ::/80: unspecified, loopback, IPv4-compatible ::/96, mapped ::ffff:0:0/96 */
    if (x[0] == 0 && x[1] == 0x64 && x[2] == 0xff && x[3] == 0x9b && x[4] == 0 && x[5] == 1) return 1; /* 64:ff9b:1::/48 local NAT64 */
    if (x[0] == 0x01 && x[1] == 0 && memcmp(x + 2, zero, 6) == 0) return 1; /* 100::/64 discard */
    if (x[0] == 0x20 && x[1] == 0x01 && x[2] < 0x02) return 1; /* 2001::/23 IETF protocol assignments (Teredo among them) */
    if (x[0] == 0x20 && x[1] == 0x02) return 1;         /* 2002::/16 6to4, which embeds any IPv4 address */
    if ((x[0] & 0xfe) == 0xfc) return 1;                /* fc00::/7 unique local */
    if (x[0] == 0xfe && (x[1] & 0x80) == 0x80) return 1; /* fe80::/10 link local, fec0::/10 site local */
    if (x[0] == 0xff) return 1;                         /* multicast */
    if (x[0] == 0x20 && x[1] == 0x01 && x[2] == 0x0d && x[3] == 0xb8) return 1; /* documentation */
    if (x[0] == 0x3f && x[1] == 0xff && (x[2] & 0xf0) == 0) return 1; /* 3fff::/20 documentation */
    return 0;
}

static inline int gg_sockaddr_port(const struct sockaddr *a) {
    return ntohs(a->sa_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port : ((const struct sockaddr_in6 *)a)->sin6_port);
}

static inline int gg_sockaddr_same_host(const struct sockaddr *a, const struct sockaddr_storage *b) {
    if (a->sa_family != b->ss_family) return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/// The policy's verdict on `address`: 1 when it must not be reached.
static inline int gg_policy_refuses(const gg_socket_policy *policy, const struct sockaddr *address) {
    if (!policy || !policy->deny_private || !gg_sockaddr_forbidden(address)) return 0;
    int port = gg_sockaddr_port(address);
    for (int i = 0; i < policy->allowed_count && i < 16; i++) {
        int allowed = policy->allowed_ports[i];
        int port_ok = allowed == 0 || (allowed < 0 ? (port == 80 || port == 443) : port == allowed);
        if (port_ok && gg_sockaddr_same_host(address, &policy->allowed[i])) return 0;
    }
    return 1;
}

static inline void gg_sockaddr_text(const struct sockaddr *address, char *out, size_t size) {
    const void *host = address->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)address)->sin_addr
                                                      : (const void *)&((const struct sockaddr_in6 *)address)->sin6_addr;
    if (!inet_ntop(address->sa_family, host, out, (socklen_t)size)) snprintf(out, size, "?");
}

/* Every connection of a transfer, redirects included, is opened here: the check is on the address
   curl actually connects to, after its own name resolution. */
static curl_socket_t gg_open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *address) {
    (void)purpose;
    gg_socket_policy *policy = (gg_socket_policy *)data;
    if (gg_policy_refuses(policy, &address->addr)) {
        if (!policy->blocked) gg_sockaddr_text(&address->addr, policy->blocked_address, sizeof policy->blocked_address);
        policy->blocked = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static inline CURLcode gg_curl_set_socket_policy(CURL *h, gg_socket_policy *policy) {
    CURLcode code = curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, gg_open_socket);
    return code == CURLE_OK ? curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, policy) : code;
}

typedef size_t (*gg_curl_write_fn)(char *, size_t, size_t, void *);
typedef int (*gg_curl_xferinfo_fn)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

static inline CURLcode gg_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode gg_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode gg_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode gg_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode gg_curl_setopt_write(CURL *h, gg_curl_write_fn f) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode gg_curl_setopt_xferinfo(CURL *h, gg_curl_xferinfo_fn f) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, f); }
static inline CURLcode gg_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode gg_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
#endif
