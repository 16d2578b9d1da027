import Foundation
import GGShared

/// One downloadable media file a page resolved to.
struct ResolvedMedia: Codable, Sendable, Equatable {
    var url: String
    var headers: [String: String]
}

/// What the resolver learnt about a page: metadata and its media in page order.
struct ResolvedPage: Codable, Sendable, Equatable {
    var title: String?
    var description: String?
    var uploader: String?
    var duration: Double?
    var tags: [String]
    var media: [ResolvedMedia]
}

/// Resolves platform pages to media URLs by running yt-dlp (`-J`) without a shell: its configuration
/// files ignored, in a private empty working folder, under memory, file-size and CPU limits, its
/// process group killed at the time limit.
struct Resolver: Sendable {
    let program: String
    let timeout: Double
    /// With `--deny-private`, the tool's connections go through a checking ResolverProxy.
    var addresses = AddressPolicy()

    /// Limits a resolver runs under: enough for yt-dlp, far from what a hostile page could make it take.
    var limits: ProcessLimits {
        ProcessLimits(addressSpaceBytes: 2 << 30, fileSizeBytes: 256 << 20, cpuSeconds: UInt64(timeout.rounded(.up)) + 5, openFiles: 1024)
    }

    func resolve(_ url: String, kind: URLKind, cancellation: Cancellation?) throws -> ResolvedPage {
        guard let executable = ProcessEnvironment.which(program) else {
            throw GGError("resolver_unavailable", "\(program) is not installed; install yt-dlp (apt-get install yt-dlp) or pass --resolver PATH")
        }
        var arguments = ["--ignore-config", "-J", "--no-warnings", "--no-progress", "--socket-timeout", "20",
                         "-f", "best[vcodec!=none][acodec!=none]/best"]
        if kind == .youtubeVideo || kind == .youtubeShort { arguments.append("--no-playlist") }
        let proxy = addresses.denyPrivate ? try ResolverProxy(policy: addresses) : nil
        defer { proxy?.stop() }
        if let proxy { arguments += ["--proxy", proxy.url] }
        arguments += ["--", url]
        var template = Array((NSTemporaryDirectory() + "/gg-resolver-XXXXXX").utf8CString)
        guard let scratch = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw GGError("io", "cannot create a working folder for \(program): \(String(cString: strerror(errno)))")
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let result: SubprocessResult
        do {
            result = try Subprocess.run(executable, arguments, timeout: timeout, cancellation: cancellation, directory: scratch, limits: limits)
        } catch let error as GGError {
            throw GGError("resolver_unavailable", error.message)
        }
        try cancellation?.check()
        if let host = proxy?.refused.first { throw AddressPolicy.forbidden(Secrets.redact(url), address: host) }
        if result.timedOut {
            throw GGError("timeout", "\(program) did not answer within \(ParsedOptions.plain(timeout)) s", retryable: true)
        }
        if result.outputTooLarge { throw GGError("resolver_failed", "\(program) printed more than the output limit") }
        guard result.status == 0 else {
            let stderr = String(decoding: result.stderr, as: UTF8.self)
            let last = stderr.split(separator: "\n").last(where: { $0.contains("ERROR") }).map(String.init) ?? stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)"
            let transient = stderr.contains("HTTP Error 5") || stderr.contains("timed out") || stderr.contains("HTTP Error 429")
            let unsupported = stderr.contains("Unsupported URL")
            throw GGError(unsupported ? "unsupported_url" : "resolver_failed", last.trimmingCharacters(in: .whitespaces), retryable: transient)
        }
        guard let json = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] else {
            throw GGError("resolver_failed", "\(program) printed no JSON")
        }
        return try Resolver.page(from: json)
    }

    static func page(from info: [String: Any]) throws -> ResolvedPage {
        let entries = (info["entries"] as? [Any])?.compactMap { $0 as? [String: Any] } ?? [info]
        let media = entries.compactMap(mediaOf)
        guard !media.isEmpty else { throw GGError("resolver_failed", "the page has no downloadable media") }
        let description = (info["description"] as? String) ?? (entries.first?["description"] as? String)
        var tags = (info["tags"] as? [String]) ?? (entries.first?["tags"] as? [String]) ?? []
        for tag in URLClassifier.hashtags(in: [info["title"] as? String, description].compactMap { $0 }.joined(separator: " ")) where !tags.contains(tag) {
            tags.append(tag)
        }
        let uploader = (info["uploader"] as? String) ?? (info["channel"] as? String) ?? (entries.first?["uploader"] as? String) ?? (info["uploader_id"] as? String)
        let duration = (info["duration"] as? Double) ?? (info["duration"] as? Int).map(Double.init)
            ?? (entries.count == 1 ? (entries[0]["duration"] as? Double) : nil)
        let title = (info["title"] as? String) ?? (entries.first?["title"] as? String)
        return ResolvedPage(title: title, description: description, uploader: uploader, duration: duration, tags: tags, media: media)
    }

    private static func mediaOf(_ entry: [String: Any]) -> ResolvedMedia? {
        func headers(_ d: [String: Any]) -> [String: String] { (d["http_headers"] as? [String: String]) ?? [:] }
        if let url = entry["url"] as? String { return ResolvedMedia(url: url, headers: headers(entry)) }
        if let requested = entry["requested_formats"] as? [[String: Any]],
           let best = requested.first(where: { ($0["vcodec"] as? String) != "none" }) ?? requested.first,
           let url = best["url"] as? String {
            return ResolvedMedia(url: url, headers: headers(best))
        }
        if let formats = entry["formats"] as? [[String: Any]], let last = formats.last(where: { $0["url"] is String }), let url = last["url"] as? String {
            return ResolvedMedia(url: url, headers: headers(last))
        }
        return nil
    }
}
