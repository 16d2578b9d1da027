import Foundation
import GGShared

/// Keeps gg-fetch's caches within their age and byte limits while gg-serve runs: every `interval`
/// seconds it prunes them (`gg-fetch --cache-prune`, which also evicts the least recently used past
/// `--cache-max-bytes`) and reads their statistics for /metrics, so an operator sees the disk filling.
final class CacheKeeper: @unchecked Sendable {
    let settings: PipelineSettings
    let interval: Double
    let metrics: Metrics
    let log: @Sendable (String) -> Void

    init(settings: PipelineSettings, interval: Double, metrics: Metrics, log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.interval = interval
        self.metrics = metrics
        self.log = log
    }

    func start() {
        Thread.detachNewThread { [self] in
            while true {
                runOnce()
                Thread.sleep(forTimeInterval: interval)
            }
        }
    }

    /// One prune and one reading of the statistics.
    func runOnce() {
        let arguments = settings.fetchCacheArguments
        let pruned = try? Subprocess.run("\(settings.bin)/gg-fetch", arguments + ["--cache-prune", ParsedOptions.plain(settings.cacheTTL) + "s"], timeout: 600)
        if let pruned, let counts = (try? JSONSerialization.jsonObject(with: pruned.stdout)) as? [String: Any] {
            metrics.cachePruned(counts["removed"] as? Int ?? 0)
            if pruned.status != 0 { log("cache prune: \(counts["failed"] ?? 0) entries could not be removed") }
        } else {
            log("cache prune failed: \(pruned.map { String(decoding: $0.stderr, as: UTF8.self) } ?? "gg-fetch did not run")")
        }
        if let stats = try? Subprocess.run("\(settings.bin)/gg-fetch", arguments + ["--cache-stats"], timeout: 120), stats.status == 0,
           let object = (try? JSONSerialization.jsonObject(with: stats.stdout)) as? [String: Any] {
            metrics.cacheState(media: (object["entries"] as? Int ?? 0, object["bytes"] as? Int ?? 0),
                               resolved: (object["resolved_entries"] as? Int ?? 0, object["resolved_bytes"] as? Int ?? 0),
                               results: (object["result_entries"] as? Int ?? 0, object["result_bytes"] as? Int ?? 0),
                               maxBytes: object["max_bytes"] as? Int, freeBytes: object["free_bytes"] as? Int)
        }
    }
}
