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
    var allowed: [sockaddr_storage] = []

    /// A policy allowing the addresses `hosts` (names or IP literals, comma-separated) resolve to.
    init(denyPrivate: Bool, allowHosts: String?) throws {
        self.denyPrivate = denyPrivate
        for host in (allowHosts ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !host.isEmpty {
            let found = AddressPolicy.resolve(host)
            guard !found.isEmpty else { throw GGError("unsupported_url", "--allow-host \(host) does not resolve") }
            allowed += found
        }
        allowed = Array(allowed.prefix(16))
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
            for (index, address) in allowed.enumerated() { slots[index] = address }
        }
        return policy
    }

    /// Throws `forbidden_address` when `url`'s host resolves to an address the policy refuses: the check
    /// made before a resolver tool (which does its own connecting) is started.
    func check(url: String) throws {
        guard denyPrivate, let host = URLComponents(string: url)?.host, !host.isEmpty else { return }
        if permittedAddresses(of: host) == nil { throw AddressPolicy.forbidden(url, address: host) }
    }

    /// The addresses `host` resolves to, or nil when the policy refuses any of them.
    func permittedAddresses(of host: String) -> [sockaddr_storage]? {
        let addresses = AddressPolicy.resolve(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
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

    static func resolve(_ host: String) -> [sockaddr_storage] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
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
