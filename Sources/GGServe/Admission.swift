import Foundation
import GGShared

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
        let id: Int
        /// The watcher's token for the end of its wait.
        var deadline: Int?
        let ready: (Bool) -> Void
    }

    private let lock = NSLock()
    private var running = 0
    private var waiters: [Waiter] = []
    private var nextWaiter = 0
    private let watcher = DeadlineWatcher()

    init(limit: Int, queue: Int, wait: Double) {
        self.limit = limit
        queueLimit = queue
        self.wait = wait
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
        nextWaiter += 1
        let id = nextWaiter
        waiters.append(Waiter(id: id, ready: ready))
        whileLocked()
        waiters[waiters.count - 1].deadline = watcher.add(after: wait) { [self] in expire(id) }
        return .queued
    }

    /// A running request is done: its slot goes to the first waiter, if any.
    func leave() {
        lock.lock()
        defer { lock.unlock() }
        if waiters.isEmpty {
            running -= 1
        } else {
            let first = waiters.removeFirst()
            if let deadline = first.deadline { watcher.remove(deadline) }
            first.ready(true)
        }
    }

    /// Waiter `id`'s wait ran out: it is turned away, unless it was let in meanwhile.
    private func expire(_ id: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).ready(false)
    }

    var counts: (running: Int, waiting: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (running, waiters.count)
    }
}
