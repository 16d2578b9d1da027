import Foundation
import Synchronization
import GGShared

/// Counters for GET /metrics, in the Prometheus text format.
final class Metrics: Sendable {
    private struct Counts {
        var requests: [String: Int] = [:]
        var rejected = 0
        var cache: [String: Int] = [:]
        var results: [String: Int] = [:]
        var stageSeconds: [String: (buckets: [Int], sum: Double, count: Int)] = [:]
        var cacheEntries: [String: Int] = [:]
        var cacheBytes: [String: Int] = [:]
        var cacheMaxBytes: Int?
        var cacheFreeBytes: Int?
        var cachePruned = 0
    }

    private let counts = Mutex(Counts())
    static let bounds = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

    func request(_ endpoint: String, _ status: Int32) {
        counts.withLock { counts in
            counts.requests["endpoint=\"\(Metrics.label(endpoint))\",status=\"\(status)\"", default: 0] += 1
            if status == 429 { counts.rejected += 1 }
        }
    }

    func result(status: String, kind: String?) {
        counts.withLock { $0.results["status=\"\(Metrics.label(status))\",kind=\"\(Metrics.label(kind ?? ""))\"", default: 0] += 1 }
    }

    /// A label value as the Prometheus text format writes it: backslash, double quote and line feed escaped.
    static func label(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    func cache(_ result: String) {
        counts.withLock { $0.cache[result, default: 0] += 1 }
    }

    func cachePruned(_ count: Int) { counts.withLock { $0.cachePruned += count } }

    func cacheState(media: (entries: Int, bytes: Int), resolved: (entries: Int, bytes: Int), results: (entries: Int, bytes: Int),
                    maxBytes: Int?, freeBytes: Int?) {
        counts.withLock { counts in
            counts.cacheEntries = ["media": media.entries, "resolved": resolved.entries, "results": results.entries]
            counts.cacheBytes = ["media": media.bytes, "resolved": resolved.bytes, "results": results.bytes]
            counts.cacheMaxBytes = maxBytes
            counts.cacheFreeBytes = freeBytes
        }
    }

    func stage(_ name: String, seconds: Double) {
        counts.withLock { counts in
            var entry = counts.stageSeconds[name] ?? (Array(repeating: 0, count: Metrics.bounds.count), 0, 0)
            for (index, bound) in Metrics.bounds.enumerated() where seconds <= bound { entry.buckets[index] += 1 }
            entry.sum += seconds
            entry.count += 1
            counts.stageSeconds[name] = entry
        }
    }

    func text(inFlight: Int, queued: Int, deadlinesMissed: Int) -> String {
        let snapshot = counts.withLock { $0 }
        let (requests, rejected, cache, results, stageSeconds) = (snapshot.requests, snapshot.rejected, snapshot.cache, snapshot.results, snapshot.stageSeconds)
        var lines = ["# HELP gg_requests_total HTTP requests by endpoint (a known route, else other) and status.", "# TYPE gg_requests_total counter"]
        lines += requests.keys.sorted().map { "gg_requests_total{\($0)} \(requests[$0]!)" }
        lines += ["# HELP gg_requests_in_flight Requests running their pipeline now.", "# TYPE gg_requests_in_flight gauge",
                  "gg_requests_in_flight \(inFlight)",
                  "# HELP gg_requests_queued Requests waiting for a pipeline slot.", "# TYPE gg_requests_queued gauge", "gg_requests_queued \(queued)",
                  "# HELP gg_requests_rejected_total Requests turned away with 429.", "# TYPE gg_requests_rejected_total counter",
                  "gg_requests_rejected_total \(rejected)",
                  "# HELP gg_request_deadline_missed_total Connections shut down for not sending their whole request within --request-deadline.",
                  "# TYPE gg_request_deadline_missed_total counter", "gg_request_deadline_missed_total \(deadlinesMissed)",
                  "# HELP gg_url_results_total URL results by status and error kind.", "# TYPE gg_url_results_total counter"]
        lines += results.keys.sorted().map { "gg_url_results_total{\($0)} \(results[$0]!)" }
        lines += ["# HELP gg_cache_requests_total Media gg-fetch served from its cache (hit) or downloaded into it (miss).",
                  "# TYPE gg_cache_requests_total counter"]
        lines += ["hit", "miss"].map { "gg_cache_requests_total{result=\"\($0)\"} \(cache[$0] ?? 0)" }
        lines += ["# HELP gg_result_cache_hits_total URLs answered from the result cache instead of the pipeline.",
                  "# TYPE gg_result_cache_hits_total counter", "gg_result_cache_hits_total \(cache["result-hit"] ?? 0)"]
        lines += ["# HELP gg_cache_entries Entries in gg-fetch's media and resolved-page caches, at the last periodic prune.",
                  "# TYPE gg_cache_entries gauge"]
        lines += ["media", "resolved", "results"].map { "gg_cache_entries{cache=\"\($0)\"} \(snapshot.cacheEntries[$0] ?? 0)" }
        lines += ["# HELP gg_cache_bytes Bytes in gg-fetch's caches, at the last periodic prune.", "# TYPE gg_cache_bytes gauge"]
        lines += ["media", "resolved", "results"].map { "gg_cache_bytes{cache=\"\($0)\"} \(snapshot.cacheBytes[$0] ?? 0)" }
        if let max = snapshot.cacheMaxBytes {
            lines += ["# HELP gg_cache_max_bytes The media cache's byte limit (--cache-max-bytes).", "# TYPE gg_cache_max_bytes gauge", "gg_cache_max_bytes \(max)"]
        }
        if let free = snapshot.cacheFreeBytes {
            lines += ["# HELP gg_cache_free_bytes Free bytes on the cache's disk.", "# TYPE gg_cache_free_bytes gauge", "gg_cache_free_bytes \(free)"]
        }
        lines += ["# HELP gg_cache_pruned_total Cache entries removed by the periodic prune (expired or least recently used).",
                  "# TYPE gg_cache_pruned_total counter", "gg_cache_pruned_total \(snapshot.cachePruned)"]
        lines += ["# HELP gg_stage_seconds Wall time of each stage process per request.", "# TYPE gg_stage_seconds histogram"]
        for name in stageSeconds.keys.sorted() {
            let entry = stageSeconds[name]!, stage = Metrics.label(name)
            for (index, bound) in Metrics.bounds.enumerated() {
                lines.append("gg_stage_seconds_bucket{stage=\"\(stage)\",le=\"\(ParsedOptions.plain(bound))\"} \(entry.buckets[index])")
            }
            lines.append("gg_stage_seconds_bucket{stage=\"\(stage)\",le=\"+Inf\"} \(entry.count)")
            lines.append("gg_stage_seconds_sum{stage=\"\(stage)\"} \(entry.sum)")
            lines.append("gg_stage_seconds_count{stage=\"\(stage)\"} \(entry.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
