import Foundation
import GGShared

/// The shape gg-assemble writes each result in: gg's own, or the old Gilgamesh service's (per URL, or as
/// an entry of its /process/batch answer). docs/gilgamesh-compat.md maps the old shape field by field.
enum ResultShape: String, Sendable {
    case gg, gilgamesh
    case gilgameshBatch = "gilgamesh-batch"
}

/// One assembled result, encoded in the shape asked for.
struct AssembledResult: Encodable, Sendable {
    var result: ServiceResult
    var shape: ResultShape

    func encode(to encoder: Encoder) throws {
        switch shape {
        case .gg: try result.encode(to: encoder)
        case .gilgamesh: try GilgameshResult(result).encode(to: encoder)
        case .gilgameshBatch: try GilgameshBatchEntry(result).encode(to: encoder)
        }
    }

    /// A small line gg-serve reads before the result itself (`--summary`): status, error kind, cache use.
    var summary: String {
        let caches = result.resultCache == "hit" ? ["result-hit"]
            : result.videos.compactMap(\.cache) + result.images.compactMap(\.cache) + result.audio.compactMap(\.cache)
        return RecordJSON.encodeLine(ResultSummary(status: result.status, kind: result.error?.kind, cache: caches))
    }
}

/// A result as the old service wrote it; a failed URL is `{status: "error", error, url}`.
struct GilgameshResult: Encodable, Sendable {
    struct Scene: Encodable, Sendable {
        var start: Double
        var end: Double
        var text: String
        var confidence: Double
        var video: String?
    }

    struct Line: Encodable, Sendable {
        var start: Double
        var end: Double
        var text: String
    }

    struct Video: Encodable, Sendable {
        var id: String
        var scenes: [Scene]
        var transcript: [Line]
    }

    struct Image: Encodable, Sendable {
        var text: String
    }

    var status: String?
    var error: String?
    var url: String
    var title: String?
    var description: String?
    var tags: [String]?
    var videos: [Video]?
    var images: [Image]?

    init(_ result: ServiceResult) {
        url = result.url ?? ""
        if result.status == "error" {
            status = "error"
            error = result.error?.message ?? "processing failed"
            return
        }
        title = result.title ?? ""
        description = result.description ?? ""
        tags = result.tags ?? []
        let videos = result.videos.map { video in
            Video(id: "\(result.id ?? "video")-\(video.index)",
                  scenes: video.scenes.map { Scene(start: $0.start, end: $0.end, text: $0.text ?? "", confidence: ($0.confidence ?? 0) / 100, video: $0.clipBase64) },
                  transcript: (video.transcript?.segments ?? []).map { Line(start: $0.start, end: $0.end, text: " " + $0.text) })
        }
        if !videos.isEmpty { self.videos = videos }
        let images = result.images.map { Image(text: $0.text ?? "") }
        if !images.isEmpty { self.images = images }
    }
}

/// An entry of the old /process/batch answer: `{status: "success", url, result}` or `{status: "error", url, detail}`.
struct GilgameshBatchEntry: Encodable, Sendable {
    var status: String
    var url: String
    var result: GilgameshResult?
    var detail: String?

    init(_ result: ServiceResult) {
        let mapped = GilgameshResult(result)
        status = mapped.status ?? "success"
        url = mapped.url
        if mapped.status == "error" {
            detail = mapped.error
        } else {
            self.result = mapped
        }
    }
}
