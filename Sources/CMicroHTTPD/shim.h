#ifndef GG_CMICROHTTPD_SHIM_H
#define GG_CMICROHTTPD_SHIM_H
#include <poll.h>
#include <strings.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <microhttpd.h>

/// MHD_start_daemon with the options gg-serve sets (it is variadic): a pool of `threads` threads on epoll
/// (handlers never block: a connection waiting for work is suspended and resumed), the given listening
/// address, a connection limit in all and per client address, an idle timeout, a per-connection memory
/// limit (which bounds the request header size), a completion callback and a connection callback (which
/// lets gg-serve hold each request to a deadline that trickled bytes do not reset).
static inline struct MHD_Daemon *gg_mhd_start(const struct sockaddr *address, MHD_AccessHandlerCallback handler, void *handler_cls,
                                              MHD_RequestCompletedCallback completed, void *completed_cls,
                                              MHD_NotifyConnectionCallback connected, void *connected_cls,
                                              unsigned int threads, unsigned int connection_limit, unsigned int per_ip_limit,
                                              unsigned int idle_seconds, size_t memory_limit) {
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (address->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_SOCK_ADDR, address,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_seconds,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_NOTIFY_CONNECTION, connected, connected_cls,
                            MHD_OPTION_END);
}

/// The port the daemon listens on (useful when it was asked for port 0).
static inline int gg_mhd_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}

/// The client socket of a connection, to notice a client that went away while its request runs.
static inline int gg_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? (int)info->connect_fd : -1;
}

/// A request header's value, or NULL.
static inline const char *gg_mhd_header(struct MHD_Connection *connection, const char *name) {
    return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

/// A query argument's value, or NULL.
static inline const char *gg_mhd_query(struct MHD_Connection *connection, const char *name) {
    return MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, name);
}
typedef struct gg_header_count { const char *name; int count; } gg_header_count;

static enum MHD_Result gg_mhd_count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind; (void)value;
    gg_header_count *wanted = (gg_header_count *)cls;
    if (key && strcasecmp(key, wanted->name) == 0) wanted->count++;
    return MHD_YES;
}

/// How many times the request head carries the header `name` (lookups see only the first).
static inline int gg_mhd_header_count(struct MHD_Connection *connection, const char *name) {
    gg_header_count wanted = {name, 0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, gg_mhd_count_header, &wanted);
    return wanted.count;
}

#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif
/// poll(2)'s "peer closed its end" event.
static inline short gg_pollrdhup(void) { return POLLRDHUP; }

/// Whether a connection notification says the connection started (else it closed).
static inline int gg_mhd_connection_started(enum MHD_ConnectionNotificationCode code) { return code == MHD_CONNECTION_NOTIFY_STARTED; }

static inline enum MHD_Result gg_mhd_yes(void) { return MHD_YES; }
static inline enum MHD_Result gg_mhd_no(void) { return MHD_NO; }

/// A response holding a copy of `size` bytes at `data`.
static inline struct MHD_Response *gg_mhd_response_copy(size_t size, const void *data) {
    return MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
}

/// MHD's function-like constants.
static inline uint64_t gg_mhd_size_unknown(void) { return MHD_SIZE_UNKNOWN; }
static inline ssize_t gg_mhd_end_of_stream(void) { return MHD_CONTENT_READER_END_OF_STREAM; }
static inline ssize_t gg_mhd_end_with_error(void) { return MHD_CONTENT_READER_END_WITH_ERROR; }
#endif
