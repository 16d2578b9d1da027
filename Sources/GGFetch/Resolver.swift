import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// A page resolver gg-fetch runs: yt-dlp for videos, gallery-dl for Instagram posts and carousels.
enum ResolverTool: String, CaseIterable, Sendable, Codable {
    case ytDlp = "yt-dlp"
    case galleryDl = "gallery-dl"

    /// The order resolvers are tried in for a kind of URL; the next runs when one fails.
    static func chain(for kind: URLKind) -> [ResolverTool] {
        switch kind {
        case .instagramPost, .instagramCarousel: return [.galleryDl, .ytDlp]
        case .instagramReel: return [.ytDlp, .galleryDl]
        default: return [.ytDlp]
        }
    }

    /// The `bin` folder of the environment scripts/setup-resolvers makes: `.tools/venv/bin` beside the
    /// checkout, `$GG_TOOLS_HOME/venv/bin`, or `<prefix>/share/gg/tools/venv/bin`.
    static func toolsBin() -> String? {
        InstallLocator.find(".tools", markers: ["venv/bin"], variable: "GG_TOOLS_HOME", shareName: "tools").map { $0 + "/venv/bin" }
    }

    /// The program to run: the one named with --yt-dlp/--gallery-dl, else the set-up one, else PATH's.
    func locate(explicit: String?) -> String? {
        if let explicit, !explicit.isEmpty { return Subprocess.which(explicit) }
        if let bin = ResolverTool.toolsBin(), access("\(bin)/\(rawValue)", X_OK) == 0 { return "\(bin)/\(rawValue)" }
        return Subprocess.which(rawValue)
    }
}

/// One slide or file of a page, at its position in the post.
struct ResolvedMedia: Codable, Sendable, Equatable {
    /// Position in the post, from 0.
    var index: Int
    /// A file URL downloaded with libcurl (gallery-dl's answers).
    var url: String?
    var headers: [String: String] = [:]
    /// yt-dlp's info JSON for this entry, handed back to yt-dlp to download (`--load-info-json`).
    var info: String?
    /// `image` or `video`, as the resolver described it.
    var type: String?
    /// Why this slide has no media, when the resolver listed it without any.
    var missing: String?
}

/// What a resolver learnt about a page: metadata and every slide in post order.
struct ResolvedPage: Codable, Sendable, Equatable {
    var resolver: ResolverTool
    var title: String?
    var description: String?
    var uploader: String?
    /// Upload time, ISO 8601 (a date only when the site gives no time).
    var uploaded: String?
    var pageUrl: String?
    var duration: Double?
    var tags: [String]
    var media: [ResolvedMedia]
    /// When the signed media URLs stop working (seconds since 1970), when they say.
    var expires: Double?
    var warnings: [String] = []
}

extension ResolvedPage {
    /// The page as the resolver cache keeps it: the page and referring URLs of yt-dlp's info JSON and the
    /// media headers with their credentials (user:password, token and signature parameters) hidden. The
    /// media URLs themselves stay: a download needs their signatures, which expire with them.
    var withoutCredentials: ResolvedPage {
        var page = self
        page.pageUrl = pageUrl.map(Secrets.redact)
        page.media = media.map { item in
            var item = item
            item.headers = item.headers.mapValues(Secrets.redact)
            if let info = item.info, var object = (try? JSONSerialization.jsonObject(with: Data(info.utf8))) as? [String: Any] {
                ResolvedPage.redactPageFields(&object)
                if let data = try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) {
                    item.info = String(decoding: data, as: UTF8.self)
                }
            }
            return item
        }
        return page
    }

    /// Fields of yt-dlp's info JSON a download reads as they are: the signed media URLs.
    static let mediaURLKeys: Set<String> = ["url", "manifest_url", "fragment_base_url", "fragments"]

    /// Hides credentials in every string of yt-dlp's info JSON but the media URLs, at every level
    /// (`webpage_url_domain` carries the page's `user:password@host` without a scheme).
    static func redactPageFields(_ object: inout [String: Any]) {
        for (key, value) in object where !mediaURLKeys.contains(key) {
            switch value {
            case let text as String:
                var redacted = Secrets.redact(text)
                if !redacted.contains("://"), let at = redacted.firstIndex(of: "@"), !redacted[..<at].contains("/") {
                    redacted = "***" + redacted[at...]
                }
                object[key] = redacted
            case var nested as [String: Any]:
                redactPageFields(&nested)
                object[key] = nested
            case let list as [Any]:
                object[key] = list.map { element -> Any in
                    guard var nested = element as? [String: Any] else { return element }
                    redactPageFields(&nested)
                    return nested
                }
            default:
                break
            }
        }
    }
}

/// Runs the resolver chain for a page, and yt-dlp downloads, with the same hygiene every time: no
/// shell, configuration files ignored, a private empty working folder, memory, file-size and CPU limits,
/// the process group killed at the time limit, and with --deny-private a checking loopback proxy.
struct Resolvers: Sendable {
    var programs: [ResolverTool: String] = [:]
    var timeout: Double = 120
    var addresses = AddressPolicy()
    var cookies: String?
    var extraArguments: [String] = []

    /// Whether a resolver argument would route connections around gg's checking proxy.
    static func replacesProxy(_ argument: String) -> Bool {
        ["--proxy", "--geo-verification-proxy", "--no-proxy"].contains { argument == $0 || argument.hasPrefix($0 + "=") }
    }
    var maxHeight = 720

    /// yt-dlp's format choice: the best video no taller than --max-height plus the best audio, merged.
    var formatSelector: String {
        "bv*[height<=\(maxHeight)]+ba/b[height<=\(maxHeight)]/bv*+ba/b"
    }

    func program(_ tool: ResolverTool) -> String? { tool.locate(explicit: programs[tool]) }

    /// Resolves `url` with each resolver of its kind's chain until one answers; the error of a chain
    /// that failed throughout names every resolver's own message.
    func resolve(_ url: String, kind: URLKind, cancellation: Cancellation?) throws -> ResolvedPage {
        var failures = [(ResolverTool, GGError)]()
        for tool in ResolverTool.chain(for: kind) {
            do {
                var page = try resolve(url, with: tool, kind: kind, cancellation: cancellation)
                page.warnings = failures.map { "\($0.0.rawValue) failed (\($0.1.kind)): \($0.1.message); resolved by \(tool.rawValue)" } + page.warnings
                return page
            } catch let error as GGError where error.kind != "interrupted" && error.kind != "forbidden_address" {
                try cancellation?.check()
                failures.append((tool, error))
            }
        }
        guard failures.count > 1 else { throw failures[0].1 }
        let chosen = failures.map(\.1).max { ResolverDiagnosis.rank($0.kind) < ResolverDiagnosis.rank($1.kind) }!
        let message = failures.map { "\($0.0.rawValue): \($0.1.message)" }.joined(separator: "; ")
        throw GGError(chosen.kind, message, retryable: chosen.retryable)
    }

    func resolve(_ url: String, with tool: ResolverTool, kind: URLKind, cancellation: Cancellation?) throws -> ResolvedPage {
        var arguments: [String]
        switch tool {
        case .ytDlp:
            arguments = ["--ignore-config", "--no-plugin-dirs", "-J", "--no-warnings", "--no-progress", "--socket-timeout", "20", "--ignore-errors", "-f", formatSelector]
            if kind == .youtubeVideo || kind == .youtubeShort { arguments.append("--no-playlist") }
        case .galleryDl:
            arguments = ["--config-ignore", "-j", "-o", "videos=merged", "-o", "output.ascii=false"]
        }
        let result = try run(tool, arguments, url: url, timeout: timeout, limits: resolverLimits, cancellation: cancellation)
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        switch tool {
        case .ytDlp:
            let json = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
            guard let json, result.status == 0 || json["entries"] != nil else {
                throw ResolverDiagnosis.failure(stderr: stderr, status: result.status)
            }
            var page = try YtDlpOutput.page(from: json)
            page.warnings += ResolverDiagnosis.errorLines(stderr).map { "yt-dlp: \($0)" }
            return page
        case .galleryDl:
            guard let messages = try? JSONSerialization.jsonObject(with: result.stdout) as? [Any] else {
                throw ResolverDiagnosis.failure(stderr: stderr, status: result.status)
            }
            return try GalleryDLOutput.page(from: messages, stderr: stderr)
        }
    }

    /// Has yt-dlp download (and merge) the media of one entry it resolved, from its own info JSON, into
    /// `folder`; returns the finished file.
    func download(info: String, into folder: URL, timeout: Double, maxBytes: Int, cancellation: Cancellation?) throws -> URL {
        let infoFile = folder.appendingPathComponent("info.json")
        try Data(info.utf8).write(to: infoFile)
        let arguments = ["--ignore-config", "--no-plugin-dirs", "--load-info-json", infoFile.path, "-f", formatSelector, "--no-playlist",
                         "-o", folder.path + "/media.%(ext)s", "--no-progress", "--no-warnings", "--no-mtime", "--socket-timeout", "20",
                         "--max-filesize", String(maxBytes), "--print", "after_move:filepath", "--no-simulate"]
        let limits = ProcessLimits(addressSpaceBytes: 4 << 30, fileSizeBytes: UInt64(maxBytes) + (1 << 20),
                                   cpuSeconds: UInt64(timeout.rounded(.up)) + 5, openFiles: 1024)
        let result = try run(.ytDlp, arguments, url: nil, timeout: timeout, limits: limits, cancellation: cancellation)
        let printed = String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, !printed.isEmpty, FileManager.default.fileExists(atPath: printed) else {
            let stderr = String(decoding: result.stderr, as: UTF8.self)
            if result.status == 0 || stderr.contains("File is larger than max-filesize") {
                throw GGError("too_large", "yt-dlp downloaded nothing: larger than --max-bytes \(maxBytes) or no format matched")
            }
            throw ResolverDiagnosis.failure(stderr: stderr, status: result.status)
        }
        return URL(fileURLWithPath: printed)
    }

    /// Limits a resolver runs under: enough for yt-dlp and gallery-dl, far from what a hostile page could make them take.
    var resolverLimits: ProcessLimits {
        ProcessLimits(addressSpaceBytes: 2 << 30, fileSizeBytes: 256 << 20, cpuSeconds: UInt64(timeout.rounded(.up)) + 5, openFiles: 1024)
    }

    private func run(_ tool: ResolverTool, _ base: [String], url: String?, timeout: Double, limits: ProcessLimits,
                     cancellation: Cancellation?) throws -> SubprocessResult {
        guard let executable = program(tool) else {
            let named = programs[tool].map { " (--\(tool.rawValue) \($0))" } ?? ""
            throw GGError("resolver_unavailable", "\(tool.rawValue) is not installed\(named); run scripts/setup-resolvers or pass --\(tool.rawValue) PATH")
        }
        var arguments = base
        if let cookies { arguments += ["--cookies", cookies] }
        let proxy = addresses.denyPrivate ? try ResolverProxy(policy: addresses) : nil
        defer { proxy?.stop() }
        if let proxy { arguments += ["--proxy", proxy.url] }
        arguments += extraArguments
        if let url { arguments += ["--", url] }
        var template = Array((NSTemporaryDirectory() + "/gg-resolver-XXXXXX").utf8CString)
        guard let scratch = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw GGError("io", "cannot create a working folder for \(tool.rawValue): \(String(cString: strerror(errno)))")
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var environment = ChildEnvironment.filtered(extra: ["HOME": scratch, "XDG_CONFIG_HOME": scratch + "/.config", "XDG_CACHE_HOME": scratch + "/.cache"])
        environment["GG_RESOLVER_ARGS"] = nil
        if let bin = ResolverTool.toolsBin() { environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") }
        let result: SubprocessResult
        do {
            result = try Subprocess.run(executable, arguments, timeout: timeout, cancellation: cancellation, environment: environment,
                                        directory: scratch, limits: limits)
        } catch let error as GGError {
            throw GGError("resolver_unavailable", error.message)
        }
        try cancellation?.check()
        if let host = proxy?.refused.first { throw AddressPolicy.forbidden(Secrets.redact(url ?? "the resolved media"), address: host) }
        if result.timedOut {
            throw GGError("timeout", "\(tool.rawValue) did not answer within \(ParsedOptions.plain(timeout)) s", retryable: true)
        }
        if result.outputTooLarge { throw GGError("resolver_failed", "\(tool.rawValue) printed more than the output limit") }
        return result
    }

    /// Each resolver's version and path, for `gg-fetch --version`.
    func versions() -> [String] {
        ResolverTool.allCases.map { tool in
            guard let path = program(tool) else { return "\(tool.rawValue): not installed (scripts/setup-resolvers)" }
            let result = try? Subprocess.run(path, ["--version"], timeout: 20, limits: resolverLimits)
            let version = result.flatMap { String(decoding: $0.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init) } ?? "?"
            return "\(tool.rawValue) \(version) (\(path))"
        }
    }
}

/// Turns what a resolver printed on failure into an error kind: `network` (retryable), `unavailable`
/// (private, removed, geo-blocked), `auth_required`, `unsupported_url`, or `resolver_failed`.
enum ResolverDiagnosis {
    static func failure(stderr: String, status: Int32) -> GGError {
        let lines = errorLines(stderr)
        let message = lines.last ?? stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
        return classify(message, exception: nil)
    }

    /// Lines a resolver printed as errors, without their prefixes.
    static func errorLines(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").compactMap { line -> String? in
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("ERROR:") { return String(text.dropFirst(6)).trimmingCharacters(in: .whitespaces) }
            if let range = text.range(of: "][error] ") { return String(text[range.upperBound...]) }
            return nil
        }
    }

    /// Classifies a resolver's message (and gallery-dl's exception class name, when it gave one).
    static func classify(_ message: String, exception: String?) -> GGError {
        let text = (message + " " + (exception ?? "")).lowercased()
        func has(_ needles: [String]) -> Bool { needles.contains { text.contains($0) } }
        if has(["unsupported url", "no suitable extractor", "noextractorerror"]) {
            return GGError("unsupported_url", message)
        }
        if has(["private video", "this video is private", "video unavailable", "has been removed", "no longer available",
                "not available in your country", "geo restrict", "geo-restrict", "notfounderror", "could not be found", "http error 404",
                "404 not found", "http error 410", "account has been terminated", "copyright claim", "does not exist"]) {
            return GGError("unavailable", message)
        }
        if has(["login required", "logged-in", "log in", "sign in to confirm", "authrequired", "authorizationerror", "authenticationerror",
                "account credentials required", "insufficient privileges", "for the authentication", "age-restricted",
                "inappropriate for some users", "members-only", "join this channel"]) {
            return GGError("auth_required", message + " (pass --cookies FILE with a logged-in session's cookies)")
        }
        if has(["timed out", "timeout", "connection refused", "connection reset", "name resolution", "name or service not known",
                "network is unreachable", "urlopen error", "transporterror", "connectionerror", "max retries exceeded", "unable to download webpage",
                "http error 5", "http error 429", "429 too many", "remote end closed", "temporary failure", "httperror: '5"]) {
            return GGError("network", message, retryable: true)
        }
        if has(["private", "isn't available", "not available"]) { return GGError("unavailable", message) }
        return GGError("resolver_failed", message)
    }

    /// Which of several resolvers' errors a failed chain reports: the most telling one.
    static func rank(_ kind: String) -> Int {
        ["resolver_unavailable", "resolver_failed", "unsupported_url", "network", "timeout", "unavailable", "auth_required"].firstIndex(of: kind) ?? 1
    }
}
