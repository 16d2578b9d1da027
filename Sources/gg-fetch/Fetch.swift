import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// gg-fetch: input URLs to local media files with metadata.
enum FetchTool {
    static let info = ToolInfo(
        name: "gg-fetch",
        summary: "Download the media behind each input URL and describe it.",
        details: """
        Input lines are URLs (or, with --allow-local, absolute paths); a JSON line is an error result, never a
        record. Each gives one record, in input order, whose items are files under WORK-DIR/<id>/ named by hash
        (local files are hard-linked or copied there, so later stages read nothing outside the work root). Instagram and YouTube pages are
        resolved with yt-dlp; media bytes are downloaded with libcurl (http and https only) through a URL cache.
        Cache maintenance (no input is read): --cache-stats, --cache-clear, --cache-prune AGE.
        """,
        options: [
            OptionSpec("--cache-dir", value: "DIR", default: "$XDG_CACHE_HOME/gg or ~/.cache/gg", "URL cache folder, safe to share between processes"),
            OptionSpec("--cache-ttl", value: "AGE", default: "7d", "how long a cached download stays fresh (s, m, h, d suffixes)"),
            OptionSpec("--no-cache", "neither read nor write the cache"),
            OptionSpec("--cache-stats", "print cache entries, bytes, oldest, newest and ttl as JSON, then exit"),
            OptionSpec("--cache-clear", "remove every cache entry, then exit"),
            OptionSpec("--cache-prune", value: "AGE", "remove cache entries older than AGE, then exit"),
            OptionSpec("--allow-local", "accept local paths and file:// URLs as input"),
            OptionSpec("--deny-private", "refuse URLs and redirects that reach loopback, private, link-local (cloud metadata), unique-local, multicast or reserved addresses (error 'forbidden_address'); checked on the address connected to, for yt-dlp through a checking loopback proxy"),
            OptionSpec("--allow-host", value: "HOSTS", "comma-separated hosts or addresses --deny-private lets through"),
            OptionSpec("--max-bytes", value: "N", default: "1073741824", "largest download accepted"),
            OptionSpec("--connect-timeout", value: "S", default: "10", "seconds to establish a connection"),
            OptionSpec("--download-timeout", value: "S", default: "300", "seconds allowed for one transfer"),
            OptionSpec("--retries", value: "N", default: "3", "extra attempts after a transient failure (5xx, timeout, reset)"),
            OptionSpec("--retry-delay", value: "S", default: "0.5", "first backoff delay; doubles on every retry"),
            OptionSpec("--max-redirects", value: "N", default: "5", "redirects followed"),
            OptionSpec("--resolver", value: "PROGRAM", default: "yt-dlp", "page resolver for Instagram, YouTube and HTML pages"),
            MediaLimits.maxPixelsOption,
            OptionSpec("--resolver-timeout", value: "S", default: "120", "seconds allowed for the resolver"),
        ],
        libraries: { _ in [HTTPClient.version] + ffmpegVersions() })

    static func main() -> Never {
        HTTPClient.globalInit()
        let runner = StageRunner(tool: info)
        let options = runner.options
        MediaLimits.configure(options)
        let cacheRoot = options.string("--cache-dir").map { URL(fileURLWithPath: $0) } ?? URLCache.defaultRoot()
        let cache = URLCache(root: cacheRoot, ttl: options.duration("--cache-ttl", default: 7 * 86400))
        if runCacheCommand(options, cache) { exit(ExitCode.ok.rawValue) }
        let addresses: AddressPolicy
        do {
            addresses = try AddressPolicy(denyPrivate: options.flag("--deny-private"), allowHosts: options.string("--allow-host"))
        } catch let error as GGError {
            ParsedOptions.usage(info.name, error.message)
        } catch {
            ParsedOptions.usage(info.name, "\(error)")
        }
        let fetcher = Fetcher(
            http: HTTPClient(limits: HTTPLimits(
                maxBytes: options.int("--max-bytes", default: 1 << 30, min: 1, max: 1 << 44),
                connectTimeout: options.double("--connect-timeout", default: 10, min: 0.001, max: 3600),
                totalTimeout: options.double("--download-timeout", default: 300, min: 0.001, max: 604_800),
                maxRedirects: options.int("--max-redirects", default: 5, min: 0, max: 50),
                retries: options.int("--retries", default: 3, min: 0, max: 20),
                retryDelay: options.double("--retry-delay", default: 0.5, min: 0, max: 3600),
                userAgent: "gg-fetch/\(ToolInfo.version)",
                addresses: addresses)),
            cache: options.flag("--no-cache") ? nil : cache,
            resolver: Resolver(program: options.string("--resolver") ?? "yt-dlp", timeout: options.double("--resolver-timeout", default: 120, min: 1, max: 86400),
                               addresses: addresses),
            allowLocal: options.flag("--allow-local"))
        runner.keepGoing = true
        let ids = RecordIDs()
        runner.decodeLine = { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
                throw GGError("not_a_url", "input lines are URLs (or local paths), not records")
            }
            var record = Record(url: trimmed)
            record.id = ids.next(for: trimmed)
            return record
        }
        runner.run { record, context in try fetcher.fetch(record, context) }
    }

    private static func runCacheCommand(_ options: ParsedOptions, _ cache: URLCache) -> Bool {
        let output: String
        if options.flag("--cache-stats") {
            output = RecordJSON.encodeLine(cache.stats())
        } else if options.flag("--cache-clear") || options.string("--cache-prune") != nil {
            let removal = options.flag("--cache-clear") ? cache.clear() : cache.prune(olderThan: options.duration("--cache-prune", default: 0))
            output = "{\"removed\":\(removal.removed),\"failed\":\(removal.failed.count)}"
            if !removal.failed.isEmpty {
                try? FileHandle.standardOutput.write(contentsOf: Data((output + "\n").utf8))
                let diagnostics = Diagnostics(tool: info.name)
                removal.failed.prefix(5).forEach { diagnostics.error("cannot remove cache entry \($0)") }
                exit(ExitCode.ioError.rawValue)
            }
        } else {
            return false
        }
        try? FileHandle.standardOutput.write(contentsOf: Data((output + "\n").utf8))
        return true
    }
}

/// Record ids in input order: the URL's hash, with "-2", "-3", ... for later copies of the same URL
/// in one run, so that each record has its own work folder (and --cleanup of one spares the other).
final class RecordIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Int] = [:]

    func next(for url: String) -> String {
        let base = Record.id(for: url)
        lock.lock()
        defer { lock.unlock() }
        let count = (seen[base] ?? 0) + 1
        seen[base] = count
        return count == 1 ? base : "\(base)-\(count)"
    }
}

/// Turns one record's URL into downloaded, probed items.
struct Fetcher: Sendable {
    let http: HTTPClient
    let cache: URLCache?
    let resolver: Resolver
    let allowLocal: Bool

    func fetch(_ input: Record, _ context: StageContext) throws -> Record {
        guard let url = input.url?.trimmingCharacters(in: .whitespaces), !url.isEmpty else {
            throw GGError("missing_url", "record has no url")
        }
        var record = input
        record.url = url
        record.id = input.id ?? Record.id(for: url)
        do {
            try fetch(into: &record, url: url, context)
        } catch let error as GGError where error.kind != "timeout" {
            record.items = nil
            record.error = error.failure(stage: context.stage)
        }
        return record
    }

    private func fetch(into record: inout Record, url: String, _ context: StageContext) throws {
        let (kind, target) = try URLClassifier.classify(url).get()
        record.kind = kind.rawValue
        let dir = context.recordDir(record)
        switch kind {
        case .local:
            guard allowLocal else { throw GGError("unsupported_url", "local files are disabled; pass --allow-local") }
            let source = URL(fileURLWithPath: target).standardizedFileURL
            var item = Item(index: 0, type: .video, path: "")
            try describe(&item, file: source)
            let destination = dir.appendingPathComponent("0-\(String(URLCache.key(url).prefix(16))).\(Fetcher.fileExtension(format: item.format ?? "", type: item.type))")
            try placeFile(source, at: destination)
            item.path = destination.path
            item.sourceUrl = "file://" + source.path
            record.items = [item]
            record.duration = item.duration
            if record.title == nil { record.title = source.lastPathComponent }
        case .direct:
            do {
                let item = try downloadItem(index: 0, url: target, headers: [:], into: dir, context)
                record.items = [item]
                record.duration = item.duration
            } catch let error as PageError {
                do {
                    try resolvePage(&record, pageURL: error.url, kind: .direct, dir: dir, context)
                } catch let failure as GGError where failure.kind == "unsupported_url" || failure.kind == "resolver_failed" {
                    throw GGError("not_media", "\(error.url) is an HTML page without media the resolver can find (\(failure.message))")
                }
            }
        default:
            try resolvePage(&record, pageURL: target, kind: kind, dir: dir, context)
        }
    }

    private func resolvePage(_ record: inout Record, pageURL: String, kind: URLKind, dir: URL, _ context: StageContext) throws {
        try http.limits.addresses.check(url: pageURL)
        let page = try resolveCached(pageURL, kind: kind, context)
        record.title = page.title
        record.description = page.description
        record.uploader = page.uploader
        record.tags = page.tags
        record.truncateMetadata()
        if kind == .instagramPost && page.media.count > 1 { record.kind = URLKind.instagramCarousel.rawValue }
        var items = [Item]()
        for (index, media) in page.media.enumerated() {
            try context.checkCancelled()
            do {
                items.append(try downloadItem(index: index, url: media.url, headers: media.headers, into: dir, context))
            } catch let error as GGError where page.media.count > 1 {
                var failed = Item(index: index, type: .video, path: "")
                failed.sourceUrl = Secrets.redact(media.url)
                failed.error = error.failure(stage: context.stage)
                items.append(failed)
            } catch is PageError {
                let failure = GGError("not_media", "\(media.url) is an HTML page, not media")
                if page.media.count == 1 { throw failure }
                var failed = Item(index: index, type: .video, path: "")
                failed.sourceUrl = Secrets.redact(media.url)
                failed.error = failure.failure(stage: context.stage)
                items.append(failed)
            }
        }
        if items.allSatisfy({ $0.error != nil }), let first = items.first?.error {
            throw GGError(first.kind, first.message, retryable: first.retryable)
        }
        record.items = items
        record.duration = page.duration.map(roundedSeconds) ?? (items.count == 1 ? items[0].duration : nil)
    }

    private func resolveCached(_ url: String, kind: URLKind, _ context: StageContext) throws -> ResolvedPage {
        let key = "resolve:" + url
        if let data = cache?.lookupData(key), let page = try? RecordJSON.decoder().decode(ResolvedPage.self, from: data) {
            return page
        }
        let page = try resolver.resolve(url, kind: kind, cancellation: context.cancellation)
        if let cache, let data = try? RecordJSON.encoder().encode(page) {
            try? cache.storeData(key, data: data, contentType: "application/json")
        }
        return page
    }

    private func downloadItem(index: Int, url: String, headers: [String: String], into dir: URL, _ context: StageContext) throws -> Item {
        try context.checkCancelled()
        guard let scheme = URLComponents(string: url)?.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw GGError("unsupported_url", "media URL is not http or https: \(url)")
        }
        let object: URL
        var contentType: String?
        var ownsObject = false
        var cacheResult: String?
        if let hit = cache?.lookup(url) {
            object = hit.file
            contentType = hit.entry.contentType
            cacheResult = "hit"
        } else {
            cacheResult = cache == nil ? nil : "miss"
            let temp: URL
            if let cache {
                temp = try cache.temporaryFile()
            } else {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                temp = dir.appendingPathComponent(".\(getpid())-\(UUID().uuidString).part")
            }
            let download: Download
            do {
                download = try http.download(url, to: temp, headers: headers, cancellation: context.cancellation)
            } catch {
                unlink(temp.path)
                throw error
            }
            contentType = download.contentType
            let entry = CacheEntry(url: Secrets.redact(url), created: Date().timeIntervalSince1970, bytes: download.bytes, contentType: download.contentType,
                                   effectiveUrl: download.effectiveURL.map(Secrets.redact))
            if let cache {
                object = try cache.store(url, file: temp, entry: entry)
            } else {
                object = temp
                ownsObject = true
            }
        }
        defer { if ownsObject { unlink(object.path) } }
        var item = Item(index: index, type: .video, path: "")
        item.sourceUrl = Secrets.redact(url)
        item.cache = cacheResult
        do {
            try describe(&item, file: object)
        } catch let error as GGError where error.kind == "not_media" {
            if Fetcher.looksLikeHTML(object, contentType: contentType) { throw PageError(url: url) }
            throw error
        }
        let name = "\(index)-\(String(URLCache.key(url).prefix(16))).\(Fetcher.fileExtension(format: item.format ?? "", type: item.type))"
        let destination = dir.appendingPathComponent(name)
        try placeFile(object, at: destination)
        item.path = destination.path
        return item
    }

    private func describe(_ item: inout Item, file: URL) throws {
        let probe = try MediaProber.probe(path: file.path)
        item.type = probe.type
        item.format = probe.format
        item.duration = probe.duration
        item.width = probe.width
        item.height = probe.height
        item.hasAudio = probe.type == .image ? nil : probe.hasAudio
        var info = stat()
        if stat(file.path, &info) == 0 { item.bytes = Int(info.st_size) }
    }

    static func looksLikeHTML(_ file: URL, contentType: String?) -> Bool {
        if let contentType, contentType.lowercased().contains("html") { return true }
        guard let handle = try? FileHandle(forReadingFrom: file) else { return false }
        defer { try? handle.close() }
        let head = String(decoding: (try? handle.read(upToCount: 512)) ?? Data(), as: UTF8.self).lowercased()
        return head.contains("<!doctype html") || head.contains("<html")
    }

    static func fileExtension(format: String, type: ItemType) -> String {
        let first = format.split(separator: ",").first.map(String.init) ?? format
        switch first {
        case "mov": return type == .audio ? "m4a" : "mp4"
        case "matroska": return "webm"
        case "jpeg_pipe", "image2": return "jpg"
        case "png_pipe": return "png"
        case "webp_pipe": return "webp"
        case "gif", "gif_pipe": return "gif"
        case "bmp_pipe": return "bmp"
        case "mp3", "wav", "ogg", "flac", "avi", "flv", "mpegts": return first == "mpegts" ? "ts" : first
        default: return "bin"
        }
    }
}

/// The downloaded URL was an HTML page rather than media.
struct PageError: Error {
    let url: String
}
