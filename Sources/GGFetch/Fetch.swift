import Foundation
import Synchronization
import GGMedia
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// gg-fetch: input URLs to local media files with metadata.
public enum FetchTool {
    static let info = ToolInfo(
        name: "gg-fetch",
        summary: "Download the media behind each input URL and describe it.",
        details: """
        Input lines are URLs (or, with --allow-local, local paths); a JSON line is an error result, never a
        record. Each gives one record, in input order, whose items are files under WORK-DIR/<id>/ named by hash
        (local files are hard-linked or copied there, so later stages read nothing outside the work root).
        Pages are resolved by a chain of resolvers, the next tried when one fails: Instagram posts and
        carousels by gallery-dl then yt-dlp, reels by yt-dlp then gallery-dl, YouTube videos and shorts, other
        HTML pages and HLS/DASH manifests by yt-dlp. Every slide of a post is an item at its position. yt-dlp
        downloads what it resolved itself (formats merged with ffmpeg); other media is downloaded with libcurl
        (http and https only) through the cache. Resolvers come from scripts/setup-resolvers (.tools/venv),
        else PATH; upgrade them with scripts/setup-resolvers --update when a site changes.
        Cache maintenance (no input is read): --cache-stats, --cache-clear, --cache-prune AGE.

        Examples:
          echo https://www.instagram.com/p/SHORTCODE/ | gg-fetch --work-dir work > fetched.ndjson
          gg-fetch --allow-local --work-dir work < urls.txt
          gg-fetch --cookies cookies.txt --max-height 1080 --work-dir work < urls.txt
        """,
        options: [
            OptionSpec("--cache-dir", value: "DIR", default: "$XDG_CACHE_HOME/gg or ~/.cache/gg", "URL cache folder, safe to share between processes"),
            OptionSpec("--cache-ttl", value: "AGE", default: "7d", "how long a cached download stays fresh (s, m, h, d suffixes)"),
            OptionSpec("--no-cache", "neither read nor write the cache"),
            OptionSpec("--cache-stats", "print cache entries, bytes, oldest, newest and ttl as JSON, then exit"),
            OptionSpec("--cache-clear", "remove every cache entry, then exit"),
            OptionSpec("--cache-prune", value: "AGE", "remove cache entries older than AGE and the least recently used past --cache-max-bytes, then exit"),
            OptionSpec("--result-cache", value: "DIR", "the cache of final results: a URL found there (under --result-key) skips the pipeline; gg-assemble stores them"),
            OptionSpec("--result-options", value: "TEXT", "the options of the stages after gg-fetch, part of each result's cache key (run.sh and gg-serve pass them)"),
            OptionSpec("--result-ttl", value: "AGE", default: "24h", "how long a cached result stays fresh"),
            OptionSpec("--cache-max-bytes", value: "N", default: "$GG_CACHE_MAX_BYTES or 20 GiB", "most bytes of media the cache keeps; storing past it evicts the least recently used"),
            OptionSpec("--min-free-bytes", value: "N", default: "1 GiB", "free space to leave on the cache's disk: a download evicts old entries first, else fails 'disk_full' (retry later)"),
            OptionSpec("--allow-local", "accept local paths (absolute, or relative to the working folder) and file:// URLs as input"),
            OptionSpec("--copy-lines", value: "LIST", "comma-separated input lines whose URL appeared on an earlier line of the whole input (their ids get -L<line>); parallel-stage.sh passes it so that chunks agree with a serial run"),
            OptionSpec("--deny-private", "refuse URLs and redirects that reach loopback, private, link-local (cloud metadata), unique-local, multicast or reserved addresses (error 'forbidden_address'); checked on the address connected to, for yt-dlp through a checking loopback proxy"),
            OptionSpec("--allow-host", value: "HOSTS", "comma-separated HOST, HOST:PORT or HOST:* --deny-private lets through (a bare HOST: ports 80 and 443)"),
            OptionSpec("--max-bytes", value: "N", default: "1073741824", "largest download accepted"),
            OptionSpec("--connect-timeout", value: "S", default: "10", "seconds to establish a connection"),
            OptionSpec("--download-timeout", value: "S", default: "300", "seconds allowed for one transfer"),
            OptionSpec("--retries", value: "N", default: "3", "extra attempts after a transient failure (5xx, timeout, reset)"),
            OptionSpec("--retry-delay", value: "S", default: "0.5", "first backoff delay; doubles on every retry"),
            OptionSpec("--max-redirects", value: "N", default: "5", "redirects followed"),
            OptionSpec("--yt-dlp", value: "PROGRAM", default: ".tools/venv/bin/yt-dlp, else PATH", "yt-dlp to run"),
            OptionSpec("--gallery-dl", value: "PROGRAM", default: ".tools/venv/bin/gallery-dl, else PATH", "gallery-dl to run"),
            OptionSpec("--max-height", value: "N", default: "720", "yt-dlp downloads the best video no taller than this plus the best audio, merged"),
            OptionSpec("--cookies", value: "FILE", "Netscape-format cookies file for both resolvers (posts that need a login)"),
            OptionSpec("--resolver-args", value: "ARGS", default: "$GG_RESOLVER_ARGS", "extra arguments for both resolvers, split at spaces (e.g. \"--proxy http://host:3128\"; a proxy is refused with --deny-private)"),
            OptionSpec("--resolve-ttl", value: "AGE", default: "1h", "how long a resolved page stays cached (shorter when its signed media URLs expire sooner)"),
            MediaLimits.maxPixelsOption,
            OptionSpec("--resolver-timeout", value: "S", default: "120", "seconds allowed for each resolver run"),
        ],
        libraries: { options in [HTTPClient.version] + ffmpegVersions() + resolvers(options).versions() })

    static func resolvers(_ options: ParsedOptions, addresses: AddressPolicy = AddressPolicy()) -> Resolvers {
        let extra = options.string("--resolver-args") ?? ProcessInfo.processInfo.environment["GG_RESOLVER_ARGS"] ?? ""
        let arguments = extra.split(whereSeparator: \.isWhitespace).map(String.init)
        if addresses.denyPrivate, let proxy = arguments.first(where: Resolvers.replacesProxy) {
            ParsedOptions.usage(info.name, "--resolver-args \(proxy) would replace the checking proxy of --deny-private, which then no longer covers the resolvers; drop it, or use --allow-private")
        }
        var programs = [ResolverTool: String]()
        for tool in ResolverTool.allCases { programs[tool] = options.string("--" + tool.rawValue) }
        return Resolvers(programs: programs, timeout: options.double("--resolver-timeout", default: 120, min: 1, max: 86400),
                         addresses: addresses, cookies: options.string("--cookies"),
                         extraArguments: arguments,
                         maxHeight: options.int("--max-height", default: 720, min: 144, max: 8640))
    }

    public static func main() -> Never {
        HTTPClient.globalInit()
        let runner = StageRunner(tool: info)
        let options = runner.options
        MediaLimits.configure(options)
        let cacheRoot = options.string("--cache-dir").map { URL(fileURLWithPath: $0) } ?? MediaCache.defaultRoot()
        let maxBytes = options.string("--cache-max-bytes") != nil ? options.int("--cache-max-bytes", default: 0, min: 1 << 20, max: Int.max)
            : ProcessInfo.processInfo.environment["GG_CACHE_MAX_BYTES"].flatMap { Int($0) }.map { max(1 << 20, $0) } ?? 20 << 30
        let cache = MediaCache(root: cacheRoot, ttl: options.duration("--cache-ttl", default: 7 * 86400), maxBytes: maxBytes)
        let resolved = MediaCache(root: cacheRoot.appendingPathComponent("resolved"), ttl: options.duration("--resolve-ttl", default: 3600))
        if runCacheCommand(options, [cache, resolved] + (resultCache(options).map { [$0] } ?? [])) { exit(ExitCode.ok.rawValue) }
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
            resolvedCache: options.flag("--no-cache") ? nil : resolved,
            resolvers: resolvers(options, addresses: addresses),
            allowLocal: options.flag("--allow-local"),
            minFreeBytes: options.int("--min-free-bytes", default: 1 << 30, min: 0, max: Int.max),
            results: resultCache(options).map { ($0, ResultCache.fingerprint(options: options.string("--result-options") ?? "")) })
        runner.keepGoing = true
        runner.skipsComments = true
        let copies = options.string("--copy-lines").map { Set($0.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }) }
        let ids = RecordIDs(knownCopies: copies)
        runner.decodeLine = { line, number in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
                throw GGError("not_a_url", "input lines are URLs (or local paths), not records")
            }
            var record = Record(url: trimmed)
            record.id = ids.next(for: trimmed, line: number)
            return record
        }
        runner.run { record, context in try fetcher.fetch(record, context) }
    }

    /// The result cache `--result-cache` names, if any.
    static func resultCache(_ options: ParsedOptions) -> MediaCache? {
        options.string("--result-cache").map { ResultCache.open($0, ttl: options.duration("--result-ttl", default: 86400), maxBytes: 4 << 30) }
    }

    /// Runs --cache-stats (of the media cache), --cache-clear or --cache-prune (of media, resolved pages and results).
    private static func runCacheCommand(_ options: ParsedOptions, _ caches: [MediaCache]) -> Bool {
        let commands = ["--cache-stats", "--cache-clear"].filter { options.flag($0) } + (options.string("--cache-prune") != nil ? ["--cache-prune"] : [])
        if commands.count > 1 { ParsedOptions.usage(info.name, "\(commands.joined(separator: " and ")) cannot be combined; run them one at a time") }
        let output: String
        if options.flag("--cache-stats") {
            var stats = caches[0].stats()
            let resolved = caches[1].stats()
            (stats.resolvedEntries, stats.resolvedBytes) = (resolved.entries, resolved.bytes)
            if caches.count > 2 {
                let results = caches[2].stats()
                (stats.resultEntries, stats.resultBytes) = (results.entries, results.bytes)
            }
            output = RecordJSON.encodeLine(stats)
        } else if options.flag("--cache-clear") || options.string("--cache-prune") != nil {
            let age = options.duration("--cache-prune", default: 0)
            var removals = caches.enumerated().map { index, cache in
                options.flag("--cache-clear") ? cache.clear() : cache.prune(olderThan: index == 2 ? min(age, cache.ttl) : age)
            }
            if let limit = caches[0].maxBytes, options.string("--cache-prune") != nil { removals.append(caches[0].trim(to: limit)) }
            let removal = MediaCache.Removal(removed: removals.map(\.removed).reduce(0, +), failed: removals.flatMap(\.failed))
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

/// Record ids: the URL's hash, with "-L<line>" (its line in the whole input) for a later copy of a URL
/// already seen, so that each record has its own work folder (and --cleanup of one spares the other).
/// `--copy-lines` names those lines for chunks of one input run apart.
final class RecordIDs: Sendable {
    private let seen = Mutex<Set<String>>([])
    private let knownCopies: Set<Int>?

    init(knownCopies: Set<Int>? = nil) { self.knownCopies = knownCopies }

    func next(for url: String, line: Int) -> String {
        let base = Record.id(for: url)
        let copy = knownCopies.map { $0.contains(line) } ?? !seen.withLock { $0.insert(base).inserted }
        return copy ? "\(base)-L\(line)" : base
    }
}

/// Turns one record's URL into downloaded, probed items.
struct Fetcher: Sendable {
    let http: HTTPClient
    let cache: MediaCache?
    let resolvedCache: MediaCache?
    let resolvers: Resolvers
    let allowLocal: Bool
    /// Free space a download must leave on the cache's disk.
    var minFreeBytes = 1 << 30
    /// The result cache and the fingerprint its keys carry, when results are cached.
    var results: (cache: MediaCache, fingerprint: String)?

    func fetch(_ input: Record, _ context: StageContext) throws -> Record {
        guard let url = input.url?.trimmingCharacters(in: .whitespaces), !url.isEmpty else {
            throw GGError("missing_url", "record has no url")
        }
        var record = input
        record.url = url
        record.id = input.id ?? Record.id(for: url)
        if let results, let data = results.cache.lookupData(ResultCache.key(url: url, fingerprint: results.fingerprint)) {
            let file = context.recordDir(record).appendingPathComponent("cached-result.json")
            do {
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try data.write(to: file)
                record.cachedResult = file.path
                return record
            } catch {
                context.diagnostics.warning("cannot place the cached result: \(error.localizedDescription); processing the URL", at: context.location)
            }
        }
        do {
            try fetch(into: &record, url: url, context)
        } catch let error as GGError where error.kind != "timeout" {
            record.items = nil
            record.error = error.failure(stage: context.stage)
        }
        return record
    }

    private func fetch(into record: inout Record, url: String, _ context: StageContext) throws {
        let (kind, target) = try URLClassifier.classify(url, allowLocal: allowLocal).get()
        record.kind = kind.rawValue
        let dir = context.recordDir(record)
        switch kind {
        case .local:
            let source = URL(fileURLWithPath: target).standardizedFileURL
            var item = Item(index: 0, type: .video, path: "")
            try describe(&item, file: source)
            let destination = dir.appendingPathComponent("0-\(String(MediaCache.key(url).prefix(16))).\(Fetcher.fileExtension(format: item.format ?? "", type: item.type))")
            try placeFile(source, at: destination)
            item.path = destination.path
            item.sourceUrl = "file://" + source.path
            record.items = [item]
            record.duration = item.duration
            describeFile(&record, name: source.lastPathComponent)
        case .direct:
            do {
                let item = try downloadItem(index: 0, url: target, headers: [:], cacheKey: target, into: dir, context)
                record.items = [item]
                record.duration = item.duration
                describeFile(&record, name: URLComponents(string: target)?.path.split(separator: "/").last.map(String.init) ?? target)
            } catch let error as PageError {
                do {
                    try resolvePage(&record, pageURL: error.url, kind: .direct, dir: dir, context)
                } catch let failure as GGError where error.manifest == nil && (failure.kind == "unsupported_url" || failure.kind == "resolver_failed") {
                    throw GGError("not_media", "\(error.url) is an HTML page without media the resolver can find (\(failure.message))")
                } catch let failure as GGError where error.manifest != nil {
                    throw GGError(failure.kind == "resolver_failed" ? "not_media" : failure.kind,
                                  "\(error.url) is an \(error.manifest!) manifest that yt-dlp could not download (\(failure.message))", retryable: failure.retryable)
                }
            }
        default:
            try resolvePage(&record, pageURL: target, kind: kind, dir: dir, context)
        }
    }

    /// Direct media and local files have no page: the title is the file name, the rest is empty, so a
    /// record has the same shape whatever its source.
    private func describeFile(_ record: inout Record, name: String) {
        if record.title == nil { record.title = name.removingPercentEncoding ?? name }
        if record.description == nil { record.description = "" }
        if record.tags == nil { record.tags = [] }
    }

    private func resolvePage(_ record: inout Record, pageURL: String, kind: URLKind, dir: URL, _ context: StageContext) throws {
        try http.limits.addresses.check(url: pageURL)
        var (page, fromCache) = try resolveCached(pageURL, kind: kind, context)
        var items: [Item]
        do {
            items = try downloadSlides(page, pageURL: pageURL, dir: dir, staleMeansRetry: fromCache, context)
        } catch is StaleResolution {
            page = try resolveFresh(pageURL, kind: kind, context)
            items = try downloadSlides(page, pageURL: pageURL, dir: dir, staleMeansRetry: false, context)
        }
        record.title = page.title
        record.description = page.description ?? ""
        record.uploader = page.uploader
        record.uploaded = page.uploaded
        record.pageUrl = page.pageUrl
        record.tags = page.tags
        if !page.warnings.isEmpty { record.warnings = (record.warnings ?? []) + page.warnings }
        record.truncateMetadata()
        if (kind == .instagramPost || kind == .instagramCarousel) {
            record.kind = (page.media.count > 1 ? URLKind.instagramCarousel : URLKind.instagramPost).rawValue
        }
        if items.allSatisfy({ $0.error != nil }), let first = items.first?.error {
            throw GGError(first.kind, first.message, retryable: first.retryable)
        }
        record.items = items
        record.duration = page.duration.map(roundedSeconds) ?? (items.count == 1 ? items[0].duration : nil)
    }

    /// Downloads every slide in post order; a slide that fails, or that the resolver listed without
    /// media, becomes an item with an error at its position. A cached resolution whose signed URLs a
    /// server refuses (403, 410) throws StaleResolution so that the page is resolved again.
    private func downloadSlides(_ page: ResolvedPage, pageURL: String, dir: URL, staleMeansRetry: Bool, _ context: StageContext) throws -> [Item] {
        var items = [Item]()
        for media in page.media {
            try context.cancellation.check()
            var failed = Item(index: media.index, type: media.type == "image" ? .image : .video, path: "")
            failed.sourceUrl = media.url.map(Secrets.redact)
            if let missing = media.missing {
                failed.error = GGError("missing_media", "slide \(media.index + 1): \(missing)").failure(stage: context.stage)
                items.append(failed)
                continue
            }
            do {
                if let info = media.info {
                    items.append(try downloadWithYtDlp(info: info, index: media.index, cacheKey: "yt-dlp:\(pageURL)#\(media.index)@\(resolvers.formatSelector)",
                                                       sourceURL: media.url, into: dir, context))
                } else if let url = media.url {
                    items.append(try downloadItem(index: media.index, url: url, headers: media.headers, cacheKey: "slide:\(pageURL)#\(media.index)",
                                                  into: dir, context))
                }
            } catch let error as GGError where !error.stopsRecord {
                if staleMeansRetry && Fetcher.isStale(error) { throw StaleResolution() }
                failed.error = error.failure(stage: context.stage)
                items.append(failed)
            } catch is PageError {
                failed.error = GGError("not_media", "\(Secrets.redact(media.url ?? "")) is an HTML page, not media").failure(stage: context.stage)
                items.append(failed)
            }
        }
        return items
    }

    static func isStale(_ error: GGError) -> Bool {
        error.httpStatus == 403 || error.httpStatus == 410 || error.message.contains("HTTP Error 403") || error.message.contains("HTTP Error 410")
    }

    /// A resolved page from the resolver cache (fresh for --resolve-ttl and before its URLs expire), else
    /// from the resolver chain.
    private func resolveCached(_ url: String, kind: URLKind, _ context: StageContext) throws -> (ResolvedPage, Bool) {
        if let data = resolvedCache?.lookupData(Fetcher.resolvedKey(url)), let page = try? RecordJSON.decoder().decode(ResolvedPage.self, from: data),
           (page.expires ?? .infinity) > Date().timeIntervalSince1970 + 60 {
            return (page, true)
        }
        return (try resolveFresh(url, kind: kind, context), false)
    }

    private func resolveFresh(_ url: String, kind: URLKind, _ context: StageContext) throws -> ResolvedPage {
        let page = try resolvers.resolve(url, kind: kind, cancellation: context.cancellation)
        if let resolvedCache, let data = try? RecordJSON.encoder().encode(page.withoutCredentials) {
            try? resolvedCache.storeData(Fetcher.resolvedKey(url), data: data, contentType: "application/json")
        }
        return page
    }

    static func resolvedKey(_ url: String) -> String { "resolve:" + url }

    /// Has yt-dlp download one resolved entry into the cache (or a private folder), then places it.
    private func downloadWithYtDlp(info: String, index: Int, cacheKey: String, sourceURL: String?, into dir: URL, _ context: StageContext) throws -> Item {
        var cacheResult: String?
        let object: URL
        var cleanup: URL?
        if let hit = cache?.lookup(cacheKey) {
            object = hit.file
            cacheResult = "hit"
        } else {
            let scratch: URL
            if let cache {
                try cache.ensureRoom(for: 0, reserve: minFreeBytes)
                scratch = try cache.temporaryFolder()
                cacheResult = "miss"
            } else {
                scratch = dir.appendingPathComponent(".yt-dlp-\(getpid())-\(UUID().uuidString)")
                do {
                    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw GGError("io", "cannot create \(scratch.path): \(error.localizedDescription)")
                }
            }
            defer { try? FileManager.default.removeItem(at: scratch) }
            let file = try resolvers.download(info: info, into: scratch, timeout: http.limits.totalTimeout, maxBytes: http.limits.maxBytes,
                                              cancellation: context.cancellation)
            var size = stat()
            stat(file.path, &size)
            if let cache {
                let kept = try cache.temporaryFile()
                guard rename(file.path, kept.path) == 0 else { throw GGError("io", "cannot move \(file.path) into the cache") }
                object = try cache.store(cacheKey, file: kept, entry: CacheEntry(url: Secrets.redact(cacheKey), created: Date().timeIntervalSince1970,
                                                                               bytes: Int(size.st_size)))
            } else {
                let kept = dir.appendingPathComponent(".\(getpid())-\(UUID().uuidString).part")
                guard rename(file.path, kept.path) == 0 else { throw GGError("io", "cannot move \(file.path) into \(dir.path)") }
                object = kept
                cleanup = kept
            }
        }
        defer { if let cleanup { unlink(cleanup.path) } }
        return try placeItem(object, index: index, name: cacheKey, sourceURL: sourceURL.map(Secrets.redact), cache: cacheResult, into: dir)
    }

    private func downloadItem(index: Int, url: String, headers: [String: String], cacheKey: String, into dir: URL, _ context: StageContext) throws -> Item {
        try context.cancellation.check()
        guard let scheme = URLComponents(string: url)?.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw GGError("unsupported_url", "media URL is not http or https: \(url)")
        }
        let object: URL
        var contentType: String?
        var ownsObject = false
        var cacheResult: String?
        if let hit = cache?.lookup(cacheKey) {
            object = hit.file
            contentType = hit.entry.contentType
            cacheResult = "hit"
        } else {
            cacheResult = cache == nil ? nil : "miss"
            let temp: URL
            if let cache {
                try cache.ensureRoom(for: 0, reserve: minFreeBytes)
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
            let entry = CacheEntry(url: Secrets.redact(cacheKey), created: Date().timeIntervalSince1970, bytes: download.bytes, contentType: download.contentType)
            if let cache {
                object = try cache.store(cacheKey, file: temp, entry: entry)
            } else {
                object = temp
                ownsObject = true
            }
        }
        defer { if ownsObject { unlink(object.path) } }
        do {
            return try placeItem(object, index: index, name: cacheKey, sourceURL: Secrets.redact(url), cache: cacheResult, into: dir)
        } catch let error as GGError where error.kind == "not_media" {
            if let page = Fetcher.page(object, contentType: contentType, url: url) { throw page }
            throw error
        }
    }

    /// Probes a downloaded file and hard-links (or copies) it into the record's folder.
    private func placeItem(_ object: URL, index: Int, name: String, sourceURL: String?, cache: String?, into dir: URL) throws -> Item {
        var item = Item(index: index, type: .video, path: "")
        item.sourceUrl = sourceURL
        item.cache = cache
        try describe(&item, file: object)
        let destination = dir.appendingPathComponent("\(index)-\(String(MediaCache.key(name).prefix(16))).\(Fetcher.fileExtension(format: item.format ?? "", type: item.type))")
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

    /// What a download that is not media is instead, by its content type and first bytes: an HLS or DASH
    /// manifest or an HTML page (both resolved with yt-dlp), or nil.
    static func page(_ file: URL, contentType: String?, url: String) -> PageError? {
        let type = contentType?.lowercased() ?? ""
        if type.contains("mpegurl") { return PageError(url: url, manifest: "HLS") }
        if type.contains("dash+xml") { return PageError(url: url, manifest: "DASH") }
        if type.contains("html") { return PageError(url: url) }
        guard let handle = try? FileHandle(forReadingFrom: file) else { return nil }
        defer { try? handle.close() }
        let bytes = (try? handle.read(upToCount: 1024)) ?? Data()
        let head = String(decoding: bytes, as: UTF8.self)
        if head.hasPrefix("#EXTM3U") || head.hasPrefix("\u{FEFF}#EXTM3U") { return PageError(url: url, manifest: "HLS") }
        if head.contains("<MPD") { return PageError(url: url, manifest: "DASH") }
        let lower = String(decoding: bytes.prefix(512), as: UTF8.self).lowercased()
        return lower.contains("<!doctype html") || lower.contains("<html") ? PageError(url: url) : nil
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

/// The downloaded URL was an HTML page (or a streaming manifest) rather than media: a page to resolve.
struct PageError: Error {
    let url: String
    var manifest: String?
}

/// A cached resolution's media URLs were refused: resolve the page again.
struct StaleResolution: Error {}
