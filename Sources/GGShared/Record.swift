import Foundation

/// One pipeline record: everything known about one input URL.
public struct Record: Codable, Sendable, Equatable {
    public var id: String?
    public var url: String?
    public var kind: String?
    public var title: String?
    public var description: String?
    public var uploader: String?
    /// Upload time, ISO 8601.
    public var uploaded: String?
    /// The page's canonical URL, as the resolver gave it.
    public var pageUrl: String?
    public var duration: Double?
    public var tags: [String]?
    public var items: [Item]?
    public var warnings: [String]?
    public var error: StageFailure?
    /// A final result gg-fetch found in the result cache, placed in the work root: the stages pass the
    /// record on untouched and gg-assemble answers with that result.
    public var cachedResult: String?

    public init(id: String? = nil, url: String? = nil, kind: String? = nil, items: [Item]? = nil, error: StageFailure? = nil) {
        self.id = id
        self.url = url
        self.kind = kind
        self.items = items
        self.error = error
    }

    /// Longest title, uploader and tag, and description kept in a record, in UTF-8 bytes.
    public static let maxShortText = 4096
    public static let maxDescription = 65536
    public static let maxTags = 200

    /// The metadata cut to the limits above, with a warning naming what was cut, so that one page's
    /// metadata cannot push a record over a stage's line limit.
    public mutating func truncateMetadata() {
        func cut(_ text: String?, _ limit: Int, _ name: String) -> String? {
            guard let text, text.utf8.count > limit else { return text }
            warnings = (warnings ?? []) + ["\(name) truncated from \(text.utf8.count) to \(limit) bytes"]
            var kept = String(decoding: text.utf8.prefix(limit), as: UTF8.self)
            while kept.hasSuffix("\u{FFFD}") { kept.removeLast() }
            return kept
        }
        title = cut(title, Record.maxShortText, "title")
        uploader = cut(uploader, Record.maxShortText, "uploader")
        description = cut(description, Record.maxDescription, "description")
        if let all = tags {
            let kept = all.prefix(Record.maxTags).compactMap { tag in tag.utf8.count <= 200 ? tag : nil }
            if kept.count != all.count { warnings = (warnings ?? []) + ["tags truncated from \(all.count) to \(kept.count)"] }
            tags = kept
        }
    }

    /// Stable identifier of a URL: the first 16 hex digits of its SHA-256.
    public static func id(for url: String) -> String {
        String(SHA256.hex(Array(url.utf8)).prefix(16))
    }
}

/// The media kind of an item.
extension Record {
    /// This record with what a parallel branch of the pipeline added to the same record: `other` ran other
    /// stages on the same fetched record (the Makefile runs gg-transcribe beside gg-scenes | gg-ocr), so its
    /// transcripts, its items' errors and warnings, and a record error it hit are taken over.
    public func joined(with other: Record) -> Record {
        var joined = self
        if joined.error == nil { joined.error = other.error }
        let known = Set(joined.warnings ?? [])
        let added = (other.warnings ?? []).filter { !known.contains($0) }
        if !added.isEmpty { joined.warnings = (joined.warnings ?? []) + added }
        guard var items = joined.items, let theirs = other.items else { return joined }
        for index in items.indices {
            guard let their = theirs.first(where: { $0.index == items[index].index }) else { continue }
            if items[index].transcript == nil { items[index].transcript = their.transcript }
            if items[index].error == nil { items[index].error = their.error }
            let mine = Set(items[index].warnings ?? [])
            let new = (their.warnings ?? []).filter { !mine.contains($0) }
            if !new.isEmpty { items[index].warnings = (items[index].warnings ?? []) + new }
        }
        joined.items = items
        return joined
    }
}

public enum ItemType: String, Codable, Sendable {
    case video, image, audio
}

/// One media file of a record (a carousel has several).
public struct Item: Codable, Sendable, Equatable {
    public var index: Int
    public var type: ItemType
    public var path: String
    public var sourceUrl: String?
    public var format: String?
    public var bytes: Int?
    public var duration: Double?
    public var width: Int?
    public var height: Int?
    public var hasAudio: Bool?
    /// "hit" when gg-fetch served the media from its cache, "miss" when it downloaded it into the cache.
    public var cache: String?
    public var scenes: [Scene]?
    public var text: String?
    public var confidence: Double?
    public var words: [Word]?
    public var transcript: Transcript?
    public var warnings: [String]?
    public var error: StageFailure?

    public init(index: Int, type: ItemType, path: String) {
        self.index = index
        self.type = type
        self.path = path
    }
}

/// A shot between two cuts, with the keyframe that represents it.
public struct Scene: Codable, Sendable, Equatable {
    public var index: Int
    public var start: Double
    public var end: Double
    public var keyframe: String
    /// Media time of the keyframe, seconds.
    public var keyframeTime: Double?
    public var clip: String?
    public var text: String?
    public var confidence: Double?
    public var words: [Word]?
    public var duplicateOf: Int?
    public var error: StageFailure?

    public init(index: Int, start: Double, end: Double, keyframe: String, keyframeTime: Double? = nil) {
        self.index = index
        self.start = start
        self.end = end
        self.keyframe = keyframe
        self.keyframeTime = keyframeTime
    }
}

/// A recognised word with its confidence (0-100) and pixel box.
public struct Word: Codable, Sendable, Equatable {
    public var text: String
    public var confidence: Double
    public var box: WordBox

    public init(text: String, confidence: Double, box: WordBox) {
        self.text = text
        self.confidence = confidence
        self.box = box
    }
}

/// A pixel rectangle: left, top, width, height.
public struct WordBox: Codable, Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var w: Int
    public var h: Int

    public init(x: Int, y: Int, w: Int, h: Int) {
        self.x = x
        self.y = y
        self.w = w
        self.h = h
    }
}

/// The timed transcript of an item's audio.
public struct Transcript: Codable, Sendable, Equatable {
    /// The language spoken longest (ISO 639-1 where whisper has one).
    public var language: String
    /// Whisper's probability for `language`, averaged over the windows it was detected in.
    public var languageProbability: Double?
    /// How `language` was chosen: detected, requested (--language), fallback (too little speech to detect),
    /// or model (an English-only model or engine).
    public var languageSource: String?
    public var engine: String
    public var text: String
    public var segments: [Segment]

    public init(language: String, engine: String, text: String, segments: [Segment], languageProbability: Double? = nil,
                languageSource: String? = nil) {
        self.language = language
        self.languageProbability = languageProbability
        self.languageSource = languageSource
        self.engine = engine
        self.text = text
        self.segments = segments
    }
}

/// A stretch of speech with absolute start and end times in seconds.
public struct Segment: Codable, Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var text: String
    /// The segment's language, when it is not the transcript's.
    public var language: String?

    public init(start: Double, end: Double, text: String, language: String? = nil) {
        self.start = start
        self.end = end
        self.text = text
        self.language = language
    }
}

/// Why a stage could not process a record or an item.
public struct StageFailure: Codable, Sendable, Equatable, Error {
    public var stage: String
    public var kind: String
    public var message: String
    public var retryable: Bool

    public init(stage: String, kind: String, message: String, retryable: Bool = false) {
        self.stage = stage
        self.kind = kind
        self.message = message
        self.retryable = retryable
    }
}

extension Record {
    /// Every file the record names: its items' media, keyframes and clips.
    public var files: [String] {
        ((items ?? []).flatMap { item in [item.path] + (item.scenes ?? []).flatMap { [$0.keyframe, $0.clip ?? ""] } } + [cachedResult ?? ""]).filter { !$0.isEmpty }
    }
}

/// A failure raised inside a stage before the stage name is attached.
public struct GGError: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: String
    public var message: String
    public var retryable: Bool
    /// The HTTP status a server answered, for `http_error`.
    public var httpStatus: Int?

    public init(_ kind: String, _ message: String, retryable: Bool = false, httpStatus: Int? = nil) {
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.httpStatus = httpStatus
    }

    public var description: String { "\(kind): \(message)" }

    /// A record's time ran out or its stage is stopping: the whole record fails, not one item.
    public var stopsRecord: Bool { kind == "timeout" || kind == "interrupted" }

    public func failure(stage: String) -> StageFailure {
        StageFailure(stage: stage, kind: kind, message: Secrets.redact(message), retryable: retryable)
    }
}

/// Rounds a time in seconds to milliseconds so records stay readable and stable.
public func roundedSeconds(_ value: Double) -> Double {
    guard value.isFinite else { return 0 }
    return (value * 1000).rounded() / 1000
}

/// What gg-serve needs to know of a result before reading it: gg-assemble's `--summary` writes one per
/// result, before the result itself.
public struct ResultSummary: Codable, Sendable {
    public var status: String
    public var kind: String?
    public var cache: [String]

    public init(status: String, kind: String?, cache: [String]) {
        self.status = status
        self.kind = kind
        self.cache = cache
    }
}

/// The cache of final results (`--result-cache`): a URL's assembled result, keyed by the URL and a
/// fingerprint of everything else that changes it: gg's version, the whisper model, and the options of
/// the stages after gg-fetch, which whoever runs the pipeline (run.sh, gg-serve) hands to gg-fetch (which
/// looks results up) and gg-assemble (which stores them) as `--result-options`. Options that do not change
/// a result (work folder, jobs, timeouts, verbosity, cleanup, the answer's shape) are left out and the
/// rest sorted, so run.sh and gg-serve agree on a key when they run the stages alike.
public enum ResultCache {
    /// The cache key of `url` under `fingerprint`.
    public static func key(url: String, fingerprint: String) -> String { "result:\(fingerprint)\n\(url)" }

    static let ignored: Set<String> = ["--work-dir", "--keep-going", "--jobs", "--timeout", "--progress", "-v", "--verbose", "-q", "--quiet",
                                       "--cleanup", "--summary", "--max-output-bytes", "--format", "--array", "--first-line", "--allow-root"]

    /// The fingerprint of stage options `options` (split at white space) in `environment`.
    public static func fingerprint(options: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        var groups = [[String]]()
        for token in options.split(whereSeparator: \.isWhitespace).map(String.init) {
            if token.hasPrefix("-") || groups.isEmpty { groups.append([token]) } else { groups[groups.count - 1].append(token) }
        }
        let kept = groups.filter { !ignored.contains($0[0]) }.map { $0.joined(separator: " ") }.sorted()
        var model = environment["GG_WHISPER_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? InstallLocator.find(".whisper", markers: ["lib", "models"], variable: "GG_WHISPER_HOME", shareName: "whisper", environment: environment)
                .map { $0 + "/" + WhisperModels.multilingual } ?? ""
        var info = stat()
        if !model.isEmpty, stat(model, &info) == 0 { model += " \(info.st_size) \(info.st_mtim.tv_sec)" }
        return SHA256.hex(Array((["gg \(ToolInfo.version)", "model \(model)"] + kept).joined(separator: "\n").utf8))
    }

    /// The result cache in `folder`, with a TTL and a byte limit.
    public static func open(_ folder: String, ttl: Double, maxBytes: Int?) -> MediaCache {
        MediaCache(root: URL(fileURLWithPath: folder), ttl: ttl, maxBytes: maxBytes)
    }
}
