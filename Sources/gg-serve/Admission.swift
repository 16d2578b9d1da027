import Foundation

/// At most `running` requests at once, up to `queued` more waiting for at most `wait` seconds.
final class Admission: @unchecked Sendable {
    let limit: Int
    let queueLimit: Int
    let wait: Double
    private let condition = NSCondition()
    private(set) var running = 0
    private(set) var waiting = 0

    init(limit: Int, queue: Int, wait: Double) {
        self.limit = limit
        queueLimit = queue
        self.wait = wait
    }

    /// True when the request may run now (call `leave` after); false when it must be turned away.
    func enter() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if running < limit {
            running += 1
            return true
        }
        guard waiting < queueLimit else { return false }
        waiting += 1
        defer { waiting -= 1 }
        let deadline = Date().addingTimeInterval(wait)
        while running >= limit {
            if !condition.wait(until: deadline) { return false }
        }
        running += 1
        return true
    }

    func leave() {
        condition.lock()
        running -= 1
        condition.signal()
        condition.unlock()
    }

    var counts: (running: Int, waiting: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (running, waiting)
    }
}
