import Foundation

/// A reply computed at most once per `seconds`; concurrent callers wait for the one computation in progress.
final class CachedReply: @unchecked Sendable {
    let seconds: Double
    private let lock = NSLock()
    private var cached: (reply: Reply, at: Date)?

    init(seconds: Double) { self.seconds = seconds }

    /// The cached reply while it is fresh, without computing.
    var fresh: Reply? {
        lock.lock()
        defer { lock.unlock() }
        guard let cached, Date().timeIntervalSince(cached.at) < seconds else { return nil }
        return cached.reply
    }

    func reply(_ compute: () -> Reply) -> Reply {
        lock.lock()
        defer { lock.unlock() }
        if let cached, Date().timeIntervalSince(cached.at) < seconds { return cached.reply }
        let reply = compute()
        cached = (reply, Date())
        return reply
    }
}
