import CCurl
import Foundation
import Synchronization
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP proxy a resolver tool (yt-dlp, `--proxy`) goes through under `--deny-private`: every
/// connection it makes, redirects and later DNS answers included, is resolved here, checked against the
/// address policy and made to the checked address (pinned), so a page cannot send the tool to a private,
/// local or metadata address. CONNECT carries https; absolute-form requests carry http.
final class ResolverProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let policy: AddressPolicy
    private let refusedHosts = Mutex<[String]>([])
    private let closed = Atomic(false)
    /// Connections are served by at most `maxConnections` threads; more wait their turn in the queue.
    private let workers = WorkerPool(maxThreads: ResolverProxy.maxConnections, stackSize: 1 << 20, name: "resolver-proxy")
    static let maxConnections = 16

    init(policy: AddressPolicy) throws {
        self.policy = policy
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw GGError("io", "cannot open the resolver proxy's socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 64) == 0 else {
            close(fd)
            throw GGError("io", "cannot listen for the resolver proxy")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The hosts refused so far.
    var refused: [String] { refusedHosts.withLock { $0 } }

    func stop() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private func acceptLoop() {
        while true {
            let client = SystemIO.accept(listener)
            guard client >= 0 else { return }
            workers.submit { [self] in serve(client) }
        }
    }

    /// Reads the request head; relays the rest both ways once the destination is checked and connected.
    private func serve(_ client: Int32) {
        defer { close(client) }
        guard let head = readHead(client) else { return }
        let split = head.endOfHead
        let text = String(decoding: head[..<split], as: UTF8.self)
        let rest = Array(head[split...])
        var lines = text.components(separatedBy: "\r\n")
        let request = lines.removeFirst().split(separator: " ").map(String.init)
        guard request.count == 3 else { return reply(client, 400, "bad request") }
        let (method, target, version) = (request[0], request[1], request[2])
        let host: String
        let port: Int
        var forward: [UInt8] = []
        if method == "CONNECT" {
            guard let colon = target.lastIndex(of: ":"), let number = Int(target[target.index(after: colon)...]) else { return reply(client, 400, "bad CONNECT") }
            host = String(target[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = number
        } else {
            guard let url = URLComponents(string: target), url.scheme?.lowercased() == "http", let name = url.host, !name.isEmpty else {
                return reply(client, 400, "only absolute http URLs and CONNECT")
            }
            host = name.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = url.port ?? 80
            let path = (url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath) + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
            let headers = lines.filter { line in
                let name = line.split(separator: ":").first?.lowercased() ?? ""
                return !line.isEmpty && name != "proxy-connection" && name != "connection" && name != "keep-alive"
            }
            forward = Array(([method + " " + path + " " + version] + headers + ["Connection: close", "", ""]).joined(separator: "\r\n").utf8) + rest
        }
        guard let upstream = connectChecked(host: host, port: port) else {
            refusedHosts.withLock { $0.append(host) }
            return reply(client, 403, "gg-fetch: \(host) is a private, local or reserved address (--deny-private)")
        }
        defer { if upstream >= 0 { close(upstream) } }
        guard upstream >= 0 else { return reply(client, 502, "gg-fetch: cannot connect to \(host):\(port)") }
        if method == "CONNECT" {
            guard writeAll(client, Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)) else { return }
            if !rest.isEmpty && !writeAll(upstream, rest) { return }
        } else {
            guard writeAll(upstream, forward), let response = readHead(upstream) else { return }
            var lines = String(decoding: response[..<response.endOfHead], as: UTF8.self).components(separatedBy: "\r\n").filter { line in
                let name = line.split(separator: ":").first?.lowercased() ?? ""
                return !line.isEmpty && name != "connection" && name != "keep-alive" && name != "proxy-connection"
            }
            lines += ["Connection: close", "", ""]
            guard writeAll(client, Array(lines.joined(separator: "\r\n").utf8) + Array(response[response.endOfHead...])) else { return }
        }
        relay(client, upstream)
    }

    /// Reads an HTTP head (and whatever follows it in the same reads) from `fd`, at most 64 KiB.
    private func readHead(_ fd: Int32) -> [UInt8]? {
        var head = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !head.containsCRLFCRLF {
            guard head.count < 65536 else { return nil }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            head += chunk[0..<n]
        }
        return head
    }

    /// A socket connected to the first address of `host` the policy allows; nil when any is refused.
    private func connectChecked(host: String, port: Int) -> Int32? {
        guard let candidates = policy.permittedAddresses(of: host, port: port) else { return nil }
        for var address in candidates {
            let family = Int32(address.ss_family)
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            let length: socklen_t
            if family == AF_INET {
                withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = UInt16(port).bigEndian } }
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
            } else {
                withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = UInt16(port).bigEndian } }
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
            let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) == 0 } }
            if connected { return fd }
            close(fd)
        }
        return candidates.isEmpty ? nil : -1
    }

    /// Copies bytes both ways until either side closes.
    private func relay(_ a: Int32, _ b: Int32) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var watched = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        while Glibc.poll(&watched, 2, 120_000) > 0 {
            for (index, entry) in watched.enumerated() where entry.revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                if !writeAll(index == 0 ? b : a, Array(buffer[0..<n])) { return }
            }
            for index in watched.indices { watched[index].revents = 0 }
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { SystemIO.writeAll(fd, $0, socket: true) }
    }

    private func reply(_ client: Int32, _ status: Int, _ message: String) {
        let body = message + "\n"
        let reason = [403: "Forbidden", 502: "Bad Gateway"][status] ?? "Bad Request"
        _ = writeAll(client, Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8))
    }
}

private extension Array where Element == UInt8 {
    var containsCRLFCRLF: Bool { endOfHead < count || (count >= 4 && endOfHead == count && self[count - 4..<count].elementsEqual([13, 10, 13, 10])) }

    /// The index just after the first blank line (CRLF CRLF), or `count` when there is none.
    var endOfHead: Int {
        guard count >= 4 else { return count }
        for index in 3..<count where self[index - 3] == 13 && self[index - 2] == 10 && self[index - 1] == 13 && self[index] == 10 {
            return index + 1
        }
        return count
    }
}
