import Foundation
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
        var since: Date
        var receiving: Bool
    }

    let seconds: Double
    private let entries = Mutex([Int: Entry]())
    private let expiredCount = Mutex(0)

    init(seconds: Double) {
        self.seconds = seconds
        Thread.detachNewThread { [self] in
            while true {
                usleep(250_000)
                expire(now: Date())
            }
        }
    }

    /// A new connection on `socket`.
    func opened(_ connection: OpaquePointer, socket: Int32) {
        entries.withLock { $0[Int(bitPattern: UnsafeRawPointer(connection))] = Entry(socket: socket, since: Date(), receiving: true) }
    }

    /// The request on `connection` has arrived whole; it is being answered.
    func received(_ connection: OpaquePointer) {
        entries.withLock { $0[Int(bitPattern: UnsafeRawPointer(connection))]?.receiving = false }
    }

    /// The answer is sent; a kept-alive connection waits for its next request on a fresh clock.
    func answered(_ connection: OpaquePointer) {
        entries.withLock { entries in
            let key = Int(bitPattern: UnsafeRawPointer(connection))
            entries[key]?.receiving = true
            entries[key]?.since = Date()
        }
    }

    /// The connection is closed (libmicrohttpd says so before it closes the socket).
    func closed(_ connection: OpaquePointer) {
        entries.withLock { _ = $0.removeValue(forKey: Int(bitPattern: UnsafeRawPointer(connection))) }
    }

    /// Connections shut down for missing their deadline, since the start.
    var expired: Int { expiredCount.withLock { $0 } }

    /// Shuts down the connections whose request has not arrived `seconds` after it began; the lock is held
    /// while doing so, so a socket is never shut down after libmicrohttpd closed (and maybe reused) it.
    func expire(now: Date) {
        let count = entries.withLock { entries in
            var count = 0
            for (key, entry) in entries where entry.receiving && now.timeIntervalSince(entry.since) > seconds {
                shutdown(entry.socket, Int32(SHUT_RDWR))
                entries[key] = nil
                count += 1
            }
            return count
        }
        if count > 0 { expiredCount.withLock { $0 += count } }
    }
}
