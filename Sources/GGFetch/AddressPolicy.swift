import CCurl
import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// `--deny-private`: the addresses gg-fetch refuses to connect to (loopback, private, link-local and
/// cloud metadata, unique-local, multicast, reserved, unspecified), except the `--allow-host` ones.
struct AddressPolicy: Sendable {
    var denyPrivate = false
    var allowed: [(address: sockaddr_storage, port: Int32)] = []

    /// Port of an `--allow-host` entry that lets every port through.
    static let anyPort: Int32 = 0
    /// Port of an `--allow-host` entry without one: the web's ports, 80 and 443, only.
    static let webPorts: Int32 = -1

    /// A policy allowing the addresses `hosts` (comma-separated names or IP literals, each with an optional
    /// `:PORT` or `:*`; `[v6]:PORT` for IPv6) resolve to, on the web's ports unless a port is given.
    init(denyPrivate: Bool, allowHosts: String?) throws {
        self.denyPrivate = denyPrivate
        for entry in (allowHosts ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            guard let (host, port) = AddressPolicy.hostAndPort(entry) else {
                throw GGError("unsupported_url", "--allow-host \(entry) is not HOST, HOST:PORT or HOST:* ([v6]:PORT for IPv6)")
            }
            let found = AddressPolicy.resolve(host)
            guard !found.isEmpty else { throw GGError("unsupported_url", "--allow-host \(host) does not resolve") }
            allowed += found.map { ($0, port) }
        }
        allowed = Array(allowed.prefix(16))
    }

    /// The host and port of an `--allow-host` entry; nil when it is malformed.
    static func hostAndPort(_ entry: String) -> (String, Int32)? {
        var host = entry
        var portText: String?
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else { return nil }
            host = String(entry[entry.index(after: entry.startIndex)..<close])
            let rest = entry[entry.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else { return nil }
                portText = String(rest.dropFirst())
            }
        } else if entry.filter({ $0 == ":" }).count == 1, let colon = entry.firstIndex(of: ":") {
            host = String(entry[..<colon])
            portText = String(entry[entry.index(after: colon)...])
        }
        guard !host.isEmpty else { return nil }
        guard let portText else { return (host, webPorts) }
        if portText == "*" { return (host, anyPort) }
        guard let port = Int32(portText), (1...65535).contains(port) else { return nil }
        return (host, port)
    }

    init() {}

    /// The C policy the socket hook reads, owned by the caller until the transfer ends.
    func makeCPolicy() -> UnsafeMutablePointer<gg_socket_policy> {
        let policy = UnsafeMutablePointer<gg_socket_policy>.allocate(capacity: 1)
        policy.initialize(to: gg_socket_policy())
        policy.pointee.deny_private = denyPrivate ? 1 : 0
        policy.pointee.allowed_count = Int32(allowed.count)
        withUnsafeMutableBytes(of: &policy.pointee.allowed) { raw in
            let slots = raw.bindMemory(to: sockaddr_storage.self)
            for (index, entry) in allowed.enumerated() { slots[index] = entry.address }
        }
        withUnsafeMutableBytes(of: &policy.pointee.allowed_ports) { raw in
            let slots = raw.bindMemory(to: Int32.self)
            for (index, entry) in allowed.enumerated() { slots[index] = entry.port }
        }
        return policy
    }

    /// Throws `forbidden_address` when `url`'s host resolves to an address the policy refuses: the check
    /// made before a resolver tool (which does its own connecting) is started.
    func check(url: String) throws {
        guard denyPrivate, let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else { return }
        let port = parts.port ?? (parts.scheme?.lowercased() == "http" ? 80 : 443)
        if permittedAddresses(of: host, port: port) == nil { throw AddressPolicy.forbidden(url, address: host) }
    }

    /// The addresses `host` resolves to, with `port`, or nil when the policy refuses any of them.
    func permittedAddresses(of host: String, port: Int) -> [sockaddr_storage]? {
        let addresses = AddressPolicy.resolve(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
        let policy = makeCPolicy()
        defer { policy.deallocate() }
        for var address in addresses {
            let refused = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { gg_policy_refuses(policy, $0) != 0 }
            }
            if refused { return nil }
        }
        return addresses
    }

    static func forbidden(_ url: String, address: String) -> GGError {
        GGError("forbidden_address", "\(url): \(address) is a private, local or reserved address (--deny-private; --allow-host permits one)")
    }

    /// The addresses `host` resolves to, with `port` in them (0 when none is given).
    static func resolve(_ host: String, port: Int = 0) -> [sockaddr_storage] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = port > 0 ? AI_NUMERICSERV : 0
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port > 0 ? String(port) : nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found = [sockaddr_storage]()
        var entry = list
        while let current = entry {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: current.pointee.ai_addr, count: Int(current.pointee.ai_addrlen)))
            }
            found.append(storage)
            entry = current.pointee.ai_next
        }
        return found
    }
}
