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
    public var language: String
    public var engine: String
    public var text: String
    public var segments: [Segment]

    public init(language: String, engine: String, text: String, segments: [Segment]) {
        self.language = language
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

    public init(start: Double, end: Double, text: String) {
        self.start = start
        self.end = end
        self.text = text
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
        (items ?? []).flatMap { item in [item.path] + (item.scenes ?? []).flatMap { [$0.keyframe, $0.clip ?? ""] } }.filter { !$0.isEmpty }
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
