import Foundation
import Synchronization
import XCTest
@testable import GGServe

/// gg-serve's parts that need no server: the metrics text, admission to a slot.
final class ServeUnitTests: XCTestCase {
    func testMetricsEscapeLabelValuesAndCountEachResultKind() {
        let metrics = Metrics()
        metrics.result(status: "error", kind: "http_error")
        metrics.result(status: "error", kind: "http_error")
        metrics.result(status: "error", kind: "odd \"kind\"\nwith\\slash")
        metrics.request("/process", 200)
        metrics.request("/process", 429)
        let text = metrics.text(inFlight: 1, queued: 2, deadlinesMissed: 0)
        XCTAssertTrue(text.contains("gg_url_results_total{status=\"error\",kind=\"http_error\"} 2\n"), text)
        XCTAssertTrue(text.contains("kind=\"odd \\\"kind\\\"\\nwith\\\\slash\"} 1\n"), text)
        XCTAssertTrue(text.contains("gg_requests_rejected_total 1\n"), text)
        XCTAssertTrue(text.contains("gg_requests_queued 2\n"), text)
        XCTAssertFalse(text.split(separator: "\n").contains { $0.hasPrefix("with") }, "a line feed in a label value breaks no line")
    }

    func testStageHistogramBucketsAreCumulative() {
        let metrics = Metrics()
        for seconds in [0.05, 0.3, 0.3, 7, 900] { metrics.stage("gg-ocr", seconds: seconds) }
        let text = metrics.text(inFlight: 0, queued: 0, deadlinesMissed: 0)
        XCTAssertTrue(text.contains("gg_stage_seconds_bucket{stage=\"gg-ocr\",le=\"0.1\"} 1\n"), text)
        XCTAssertTrue(text.contains("gg_stage_seconds_bucket{stage=\"gg-ocr\",le=\"0.5\"} 3\n"), text)
        XCTAssertTrue(text.contains("gg_stage_seconds_bucket{stage=\"gg-ocr\",le=\"10\"} 4\n"), text)
        XCTAssertTrue(text.contains("gg_stage_seconds_bucket{stage=\"gg-ocr\",le=\"+Inf\"} 5\n"), text)
        XCTAssertTrue(text.contains("gg_stage_seconds_count{stage=\"gg-ocr\"} 5\n"), text)
    }

    /// Queued requests waited on a thread that woke every quarter second; their waits now run out on the deadline
    /// watcher: a request still queued when its wait ends is turned away, and one let in when a slot frees is let in once.
    func testQueuedRequestIsTurnedAwayWhenItsWaitEndsAndLetInWhenASlotFrees() {
        let verdicts = Mutex<[Bool]>([])
        let told = DispatchSemaphore(value: 0)
        let record: (Bool) -> Void = { verdict in
            verdicts.withLock { $0.append(verdict) }
            told.signal()
        }
        let short = Admission(limit: 1, queue: 4, wait: 0.2)
        XCTAssertEqual(short.enter(whileLocked: {}, ready: { _ in XCTFail("a request let in at once is not told again") }), .now)
        XCTAssertEqual(short.enter(whileLocked: {}, ready: record), .queued)
        XCTAssertEqual(told.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(verdicts.withLock { $0 }, [false])
        XCTAssertEqual(short.counts.running, 1)
        XCTAssertEqual(short.counts.waiting, 0)

        let long = Admission(limit: 1, queue: 1, wait: 3600)
        XCTAssertEqual(long.enter(whileLocked: {}, ready: { _ in }), .now)
        XCTAssertEqual(long.enter(whileLocked: {}, ready: record), .queued)
        XCTAssertEqual(long.enter(whileLocked: {}, ready: { _ in XCTFail("a full queue turns a request away at once") }), .full)
        long.leave()
        XCTAssertEqual(verdicts.withLock { $0 }, [false, true])
        XCTAssertEqual(long.counts.running, 1)
        XCTAssertEqual(long.counts.waiting, 0)
    }
}
