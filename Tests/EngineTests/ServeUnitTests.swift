import XCTest
@testable import GGServe

/// gg-serve's parts that need no server: the metrics text.
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
}
