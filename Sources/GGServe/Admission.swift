import Foundation

/// At most `limit` requests run at once, up to `queueLimit` more wait for at most `wait` seconds, in
/// order. Nothing blocks: a waiting request is told by a callback when it may run (true) or its wait
/// ran out (false), and the caller suspends its connection meanwhile.
final class Admission: @unchecked Sendable {
    let limit: Int
    let queueLimit: Int
    let wait: Double

    /// What `enter` decided.
    enum Entry { case now, queued, full }

    private struct Waiter {
        let deadline: Date
        let ready: (Bool) -> Void
    }

    private let lock = NSLock()
    private var running = 0
    private var waiters: [Waiter] = []

    init(limit: Int, queue: Int, wait: Double) {
        self.limit = limit
        queueLimit = queue
        self.wait = wait
        Thread.detachNewThread { [self] in
            while true {
                usleep(250_000)
                expire(now: Date())
            }
        }
    }

    /// `.now` when the request may run at once (call `leave` after); `.queued` when it waits (`ready` is
    /// called later, once, with the verdict; `whileLocked` runs before anyone can call it, so the caller can
    /// suspend its connection there); `.full` when it must be turned away.
    func enter(whileLocked: () -> Void, ready: @escaping (Bool) -> Void) -> Entry {
        lock.lock()
        defer { lock.unlock() }
        if running < limit && waiters.isEmpty {
            running += 1
            return .now
        }
        guard waiters.count < queueLimit, wait > 0 else { return .full }
        waiters.append(Waiter(deadline: Date().addingTimeInterval(wait), ready: ready))
        whileLocked()
        return .queued
    }

    /// A running request is done: its slot goes to the first waiter, if any.
    func leave() {
        lock.lock()
        defer { lock.unlock() }
        if waiters.isEmpty {
            running -= 1
        } else {
            waiters.removeFirst().ready(true)
        }
    }

    private func expire(now: Date) {
        lock.lock()
        defer { lock.unlock() }
        let expired = waiters.filter { $0.deadline <= now }
        guard !expired.isEmpty else { return }
        waiters.removeAll { $0.deadline <= now }
        expired.forEach { $0.ready(false) }
    }

    var counts: (running: Int, waiting: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (running, waiters.count)
    }
}
