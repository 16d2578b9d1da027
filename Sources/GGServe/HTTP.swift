import CMicroHTTPD
import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP request as libmicrohttpd hands it over, its body accumulated up to a limit.
final class Exchange: @unchecked Sendable {
    let method: String
    let path: String
    let started = Date()
    var body = Data()
    var bodyTooLarge = false
    var status: Int32 = 0
    var urlCount = 0
    /// An answer worked out off libmicrohttpd's threads, queued when the handler is called again after resume.
    var deferred: Reply?
    /// Whether a slow answer is being worked out for this request.
    var working = false
    /// What admission said of a request that waited for a slot: true to run, false for 429.
    var admitted: Bool?
    /// The parsed /process body, kept while the request waits for a slot.
    var process: ProcessBody?
    /// A stream whose status was decided while the connection was suspended: sent on resume.
    var stream: ResultStream?
    /// The pipeline run's id, once /process started one: stage diagnostics in the log carry it.
    var requestID: String?

    init(method: String, path: String) {
        self.method = method
        self.path = path
    }
}

/// A response to send: a status, headers and a body.
struct Reply: Error {
    var status: Int32
    var body: Data
    var contentType = "application/json"
    var headers: [(String, String)] = []

    static func json(_ status: Int32, _ object: Any) -> Reply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Reply(status: status, body: data + Data("\n".utf8))
    }

    static func error(_ status: Int32, _ message: String, field: String? = nil) -> Reply {
        var object: [String: Any] = ["status": "error", "detail": message]
        if let field { object["field"] = field }
        return json(status, object)
    }
}

/// An owned libmicrohttpd daemon: a small pool of threads on epoll. Handlers never block; a connection that
/// waits (for a slot, a slow answer, or results) is suspended and resumed when there is something to do.
final class HTTPDaemon {
    let pointer: OpaquePointer

    init(address: sockaddr_storage, handler: MHD_AccessHandlerCallback, completed: MHD_RequestCompletedCallback,
         connected: MHD_NotifyConnectionCallback, context: UnsafeMutableRawPointer, threads: UInt32,
         connectionLimit: UInt32, perAddressLimit: UInt32, idleSeconds: UInt32, headerBytes: Int) throws {
        var address = address
        let daemon = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                gg_mhd_start($0, handler, context, completed, context, connected, context, threads, connectionLimit, perAddressLimit, idleSeconds, headerBytes)
            }
        }
        guard let daemon else { throw GGError("port_unavailable", "cannot listen: \(String(cString: strerror(errno)))") }
        pointer = daemon
    }

    var port: Int { Int(gg_mhd_port(pointer)) }

    /// Stops accepting connections; requests in flight go on.
    func quiesce() { _ = MHD_quiesce_daemon(pointer) }

    deinit { MHD_stop_daemon(pointer) }

    /// Queues `reply` on `connection`.
    static func send(_ reply: Reply, on connection: OpaquePointer) -> MHD_Result {
        let response = reply.body.withUnsafeBytes { raw in gg_mhd_response_copy(raw.count, raw.baseAddress) }
        guard let response else { return gg_mhd_no() }
        return queue(response, status: reply.status, contentType: reply.contentType, headers: reply.headers, on: connection)
    }

    /// Queues `response` (a buffer, a file or a callback) with its content type and headers, then lets it go.
    static func queue(_ response: OpaquePointer, status: Int32, contentType: String, headers: [(String, String)],
                      on connection: OpaquePointer) -> MHD_Result {
        defer { MHD_destroy_response(response) }
        _ = MHD_add_response_header(response, "Content-Type", contentType)
        for (name, value) in headers { _ = MHD_add_response_header(response, name, value) }
        return MHD_queue_response(connection, UInt32(status), response)
    }
}

/// A request header's value, or nil.
func requestHeader(_ connection: OpaquePointer, _ name: String) -> String? {
    gg_mhd_header(connection, name).map { String(cString: $0) }
}

/// A query argument's value, or nil.
func queryArgument(_ connection: OpaquePointer, _ name: String) -> String? {
    gg_mhd_query(connection, name).map { String(cString: $0) }
}

/// Whether the client asked for one result line at a time (`Accept: application/x-ndjson`).
func wantsResultLines(_ connection: OpaquePointer) -> Bool {
    (requestHeader(connection, "Accept") ?? "").contains("application/x-ndjson")
}

/// Parses `host:port`, `[v6]:port` or `:port` into a socket address.
func socketAddress(_ text: String) -> sockaddr_storage? {
    var host = "127.0.0.1"
    var portText = text
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
        host = String(text[text.index(after: text.startIndex)..<close])
        portText = String(text[text.index(after: close)...].dropFirst())
    } else if let colon = text.lastIndex(of: ":") {
        host = colon == text.startIndex ? "0.0.0.0" : String(text[..<colon])
        portText = String(text[text.index(after: colon)...])
    }
    guard let port = UInt16(portText) else { return nil }
    var storage = sockaddr_storage()
    var v4 = in_addr()
    var v6 = in6_addr()
    if inet_pton(AF_INET, host, &v4) == 1 {
        withUnsafeMutableBytes(of: &storage) { raw in
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = v4
            withUnsafeBytes(of: &address) { raw.copyMemory(from: $0) }
        }
    } else if inet_pton(AF_INET6, host, &v6) == 1 {
        withUnsafeMutableBytes(of: &storage) { raw in
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = v6
            withUnsafeBytes(of: &address) { raw.copyMemory(from: $0) }
        }
    } else {
        return nil
    }
    return storage
}

/// Whether `address` is a loopback address (127.0.0.0/8 or ::1), which only this machine can reach.
func isLoopback(_ address: sockaddr_storage) -> Bool {
    var copy = address
    let family = address.ss_family
    return withUnsafeBytes(of: &copy) { raw in
        if family == sa_family_t(AF_INET) {
            return UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr) >> 24 == 127
        }
        guard family == sa_family_t(AF_INET6) else { return false }
        let bytes = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
        return bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
    }
}

/// A folder only this user may enter: created 0700, or refused when it exists as anything else.
enum PrivateFolder {
    /// Nil when `path` is (now) a directory owned by this user that group and others cannot write to;
    /// otherwise why not. Missing parents are created.
    static func prepare(_ path: String) -> String? {
        let parent = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        if mkdir(path, 0o700) != 0 && errno != EEXIST { return "cannot create it: \(String(cString: strerror(errno)))" }
        var info = stat()
        guard lstat(path, &info) == 0 else { return "cannot read it: \(String(cString: strerror(errno)))" }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "it exists and is not a directory (a link is refused too)" }
        guard info.st_uid == getuid() else { return "it belongs to another user (uid \(info.st_uid)); use a folder of your own" }
        guard info.st_mode & 0o022 == 0 else {
            return "group or others may write to it (mode \(String(info.st_mode & 0o7777, radix: 8))); chmod 700 it or choose another"
        }
        return nil
    }
}
