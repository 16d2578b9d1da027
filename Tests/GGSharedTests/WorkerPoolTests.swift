import Foundation
import Synchronization
import XCTest
@testable import GGShared

final class WorkerPoolTests: XCTestCase {
    /// Records ran on a thread each plus one per timeout; the pool runs every job on at most its threads.
    func testWorkerPoolRunsEveryJobOnAtMostItsThreads() {
        let pool = WorkerPool(maxThreads: 3, name: "test")
        let running = Atomic(0), busiest = Atomic(0), ran = Atomic(0)
        let group = DispatchGroup()
        for _ in 0..<40 {
            group.enter()
            pool.submit {
                let now = running.add(1, ordering: .sequentiallyConsistent).newValue
                var seen = busiest.load(ordering: .sequentiallyConsistent)
                while now > seen {
                    let (exchanged, original) = busiest.compareExchange(expected: seen, desired: now, ordering: .sequentiallyConsistent)
                    if exchanged { break }
                    seen = original
                }
                for _ in 0..<2000 { _ = ran.load(ordering: .relaxed) }
                ran.add(1, ordering: .sequentiallyConsistent)
                running.subtract(1, ordering: .sequentiallyConsistent)
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(ran.load(ordering: .sequentiallyConsistent), 40)
        XCTAssertLessThanOrEqual(busiest.load(ordering: .sequentiallyConsistent), 3)
        XCTAssertLessThanOrEqual(pool.threadCount, 3)
    }

    /// Deadlines fire soonest first, on one thread; a removed one never fires. The watcher is held busy while
    /// they are added, so the order does not depend on how fast this test runs.
    func testDeadlinesFireSoonestFirstAndRemovedOnesNever() {
        let watcher = DeadlineWatcher()
        let fired = Mutex<[String]>([])
        let entered = DispatchSemaphore(value: 0), gate = DispatchSemaphore(value: 0), last = DispatchSemaphore(value: 0)
        watcher.add(after: 0) {
            entered.signal()
            gate.wait()
        }
        XCTAssertEqual(entered.wait(timeout: .now() + 120), .success)
        watcher.add(after: 0.2) {
            fired.withLock { $0.append("later") }
            last.signal()
        }
        watcher.add(after: 0.1) { fired.withLock { $0.append("sooner") } }
        let removed = watcher.add(after: 0.05) { fired.withLock { $0.append("removed") } }
        watcher.remove(removed)
        gate.signal()
        XCTAssertEqual(last.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(fired.withLock { $0 }, ["sooner", "later"])
    }

    func testOnlyTheFirstClaimWins() {
        let claim = OnceClaim()
        let wins = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 16) { _ in if claim.take() { wins.add(1, ordering: .relaxed) } }
        XCTAssertEqual(wins.load(ordering: .relaxed), 1)
    }
}

final class ChildStopTests: XCTestCase {
    /// stop() waited for a child by polling every 20 ms; it now waits on a pidfd: a child that ends on SIGTERM
    /// ends by it, one that ignores it is killed when the grace ends.
    func testStopEndsAChildBySIGTERMOrKillsItAfterTheGrace() throws {
        let polite = try ChildProcess("/bin/sleep", ["60"])
        polite.stop(grace: 60)
        XCTAssertEqual(polite.wait(), 128 + SIGTERM)
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        let stubborn = try ChildProcess("/bin/sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], stdout: writeEnd.raw)
        writeEnd.close()
        var ready = [UInt8](repeating: 0, count: 6)
        XCTAssertEqual(ready.withUnsafeMutableBytes { readEnd.read(into: $0) }, 6, "the child has set its trap")
        stubborn.stop(grace: 0.2)
        XCTAssertEqual(stubborn.wait(), 128 + SIGKILL)
    }
}
