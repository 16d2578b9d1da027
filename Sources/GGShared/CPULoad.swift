import Foundation

/// How busy the machine's CPUs are.
public enum CPULoad {
    /// Of `wanted` CPUs, how many this process can have now: the online CPUs less the threads other work
    /// keeps runnable (/proc/loadavg's count, less the reader), at least 1.
    public static func freeCores(of wanted: Int) -> Int {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return wanted }
        let fields = text.split(separator: " ")
        guard fields.count >= 4, let running = fields[3].split(separator: "/").first.flatMap({ Int($0) }) else { return wanted }
        return max(1, min(wanted, cpus - max(0, running - 1)))
    }
}
