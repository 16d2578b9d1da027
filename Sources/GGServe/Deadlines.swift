import Foundation
import GGShared
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Holds every connection to a deadline for receiving a whole request (head and body) that trickled
/// bytes do not reset, unlike libmicrohttpd's idle timeout: a connection still receiving when its
/// deadline passes is shut down. The clock restarts for each request on a kept-alive connection, and
/// stops while a request is being answered (its pipeline may take long).
final class RequestDeadlines: Sendable {
    private struct Entry {
        var socket: Int32
        /// The watcher's token while the connection is receiving a request; nil while it is answered.
        var deadline: Int?
    }

    let seconds: Double
    private let entries = Mutex([Int: Entry]())
    private let expiredCount = Mutex(0)
    private let watcher = DeadlineWatcher()

    init(seconds: Double) {
        self.seconds = seconds
    }

    /// A deadline's own token, set once it is armed (read under the `entries` lock, after arming finished).
    private final class Token: Sendable {
        let value = Mutex<Int?>(nil)
    }

    private static func key(_ connection: OpaquePointer) -> Int { Int(bitPattern: UnsafeRawPointer(connection)) }

    /// A deadline `seconds` from now for the connection `key` (called with `entries` locked).
    private func arm(_ key: Int) -> Int {
        let token = Token()
        let armed = watcher.add(after: seconds) { [self] in expire(key, token: token) }
        token.value.withLock { $0 = armed }
        return armed
    }

    /// A new connection on `socket`.
    func opened(_ connection: OpaquePointer, socket: Int32) {
        let key = Self.key(connection)
        entries.withLock { $0[key] = Entry(socket: socket, deadline: arm(key)) }
    }

    /// The request on `connection` has arrived whole; it is being answered.
    func received(_ connection: OpaquePointer) {
        entries.withLock { entries in
            let key = Self.key(connection)
            if let token = entries[key]?.deadline { watcher.remove(token) }
            entries[key]?.deadline = nil
        }
    }

    /// The answer is sent; a kept-alive connection waits for its next request on a fresh clock.
    func answered(_ connection: OpaquePointer) {
        entries.withLock { entries in
            let key = Self.key(connection)
            guard entries[key] != nil else { return }
            if let token = entries[key]?.deadline { watcher.remove(token) }
            entries[key]?.deadline = arm(key)
        }
    }

    /// The connection is closed (libmicrohttpd says so before it closes the socket).
    func closed(_ connection: OpaquePointer) {
        entries.withLock { entries in
            if let token = entries.removeValue(forKey: Self.key(connection))?.deadline { watcher.remove(token) }
        }
    }

    /// Connections shut down for missing their deadline, since the start.
    var expired: Int { expiredCount.withLock { $0 } }

    /// Shuts the connection down if deadline `token` is still its own; the lock is held while doing so, so a
    /// socket is never shut down after libmicrohttpd closed (and maybe reused) it.
    private func expire(_ key: Int, token: Token) {
        let shut = entries.withLock { entries in
            guard let entry = entries[key], let deadline = entry.deadline, deadline == token.value.withLock({ $0 }) else { return false }
            shutdown(entry.socket, Int32(SHUT_RDWR))
            entries[key] = nil
            return true
        }
        if shut { expiredCount.withLock { $0 += 1 } }
    }
}
