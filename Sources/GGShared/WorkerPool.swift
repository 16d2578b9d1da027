import Foundation
import Synchronization

/// At most `maxThreads` long-lived threads (with large stacks: the engines recurse deeply) running submitted work
/// in submission order; a thread is started only when work arrives and none is idle.
public final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var idle = 0
    private var started = 0
    private let maxThreads: Int
    private let stackSize: Int
    private let name: String

    public init(maxThreads: Int, stackSize: Int = 16 << 20, name: String) {
        self.maxThreads = max(1, maxThreads)
        self.stackSize = stackSize
        self.name = name
    }

    /// The threads started so far (never more than `maxThreads`).
    public var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return started
    }

    public func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        queue.append(work)
        if idle > 0 {
            condition.signal()
        } else if started < maxThreads {
            started += 1
            let thread = Thread { [self] in serve() }
            thread.stackSize = stackSize
            thread.name = "\(name)-\(started)"
            thread.start()
        }
    }

    private func serve() {
        while true {
            condition.lock()
            while head == queue.count {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let work = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            work()
        }
    }
}

/// One thread that runs actions when their deadlines pass (record timeouts), rather than a thread per deadline.
/// It sleeps on a condition until the soonest deadline or a change, never polling.
public final class DeadlineWatcher: @unchecked Sendable {
    private let condition = NSCondition()
    private var entries: [Int: (deadline: DispatchTime, action: @Sendable () -> Void)] = [:]
    private var nextToken = 0
    private var running = false

    public init() {}

    /// Runs `action` on the watcher's thread `seconds` from now, unless `remove`d first; returns the token for `remove`.
    @discardableResult
    public func add(after seconds: Double, _ action: @escaping @Sendable () -> Void) -> Int {
        condition.lock()
        defer { condition.unlock() }
        nextToken += 1
        entries[nextToken] = (.now() + seconds, action)
        if !running {
            running = true
            let thread = Thread { [self] in watch() }
            thread.name = "deadlines"
            thread.start()
        }
        condition.signal()
        return nextToken
    }

    /// Forgets a deadline; its action will not run (unless it is running already).
    public func remove(_ token: Int) {
        condition.lock()
        entries[token] = nil
        condition.unlock()
    }

    private func watch() {
        condition.lock()
        while true {
            guard let (token, soonest) = entries.min(by: { $0.value.deadline < $1.value.deadline }) else {
                condition.wait()
                continue
            }
            let now = DispatchTime.now()
            if soonest.deadline <= now {
                entries[token] = nil
                condition.unlock()
                soonest.action()
                condition.lock()
                continue
            }
            let seconds = Double(soonest.deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9
            _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        }
    }
}

/// A claim that only the first of several parties gets (a record's result or its timeout).
public final class OnceClaim: Sendable {
    private let taken = Atomic(false)

    public init() {}

    /// True for the first caller only.
    public func take() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
}
