import Foundation
import GGShared

/// Counters for GET /metrics, in the Prometheus text format.
final class Metrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]
    private var rejected = 0
    private var cache: [String: Int] = [:]
    private var results: [String: Int] = [:]
    private var stageSeconds: [String: (buckets: [Int], sum: Double, count: Int)] = [:]
    static let bounds = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

    func request(_ endpoint: String, _ status: Int32) {
        lock.lock()
        requests["endpoint=\"\(endpoint)\",status=\"\(status)\"", default: 0] += 1
        if status == 429 { rejected += 1 }
        lock.unlock()
    }

    func result(status: String, kind: String?) {
        lock.lock()
        results["status=\"\(status)\",kind=\"\(kind ?? "")\"", default: 0] += 1
        lock.unlock()
    }

    func cache(_ result: String) {
        lock.lock()
        cache[result, default: 0] += 1
        lock.unlock()
    }

    func stage(_ name: String, seconds: Double) {
        lock.lock()
        var entry = stageSeconds[name] ?? (Array(repeating: 0, count: Metrics.bounds.count), 0, 0)
        for (index, bound) in Metrics.bounds.enumerated() where seconds <= bound { entry.buckets[index] += 1 }
        entry.sum += seconds
        entry.count += 1
        stageSeconds[name] = entry
        lock.unlock()
    }

    func text(inFlight: Int, queued: Int) -> String {
        lock.lock()
        defer { lock.unlock() }
        var lines = ["# HELP gg_requests_total HTTP requests by endpoint and status.", "# TYPE gg_requests_total counter"]
        lines += requests.keys.sorted().map { "gg_requests_total{\($0)} \(requests[$0]!)" }
        lines += ["# HELP gg_requests_in_flight Requests running their pipeline now.", "# TYPE gg_requests_in_flight gauge",
                  "gg_requests_in_flight \(inFlight)",
                  "# HELP gg_requests_queued Requests waiting for a pipeline slot.", "# TYPE gg_requests_queued gauge", "gg_requests_queued \(queued)",
                  "# HELP gg_requests_rejected_total Requests turned away with 429.", "# TYPE gg_requests_rejected_total counter",
                  "gg_requests_rejected_total \(rejected)",
                  "# HELP gg_url_results_total URL results by status and error kind.", "# TYPE gg_url_results_total counter"]
        lines += results.keys.sorted().map { "gg_url_results_total{\($0)} \(results[$0]!)" }
        lines += ["# HELP gg_cache_requests_total Media gg-fetch served from its cache (hit) or downloaded into it (miss).",
                  "# TYPE gg_cache_requests_total counter"]
        lines += ["hit", "miss"].map { "gg_cache_requests_total{result=\"\($0)\"} \(cache[$0] ?? 0)" }
        lines += ["# HELP gg_stage_seconds Wall time of each stage process per request.", "# TYPE gg_stage_seconds histogram"]
        for name in stageSeconds.keys.sorted() {
            let entry = stageSeconds[name]!
            for (index, bound) in Metrics.bounds.enumerated() {
                lines.append("gg_stage_seconds_bucket{stage=\"\(name)\",le=\"\(ParsedOptions.plain(bound))\"} \(entry.buckets[index])")
            }
            lines.append("gg_stage_seconds_bucket{stage=\"\(name)\",le=\"+Inf\"} \(entry.count)")
            lines.append("gg_stage_seconds_sum{stage=\"\(name)\"} \(entry.sum)")
            lines.append("gg_stage_seconds_count{stage=\"\(name)\"} \(entry.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
