import Foundation

/// The old Gilgamesh service's result shape (docs/gilgamesh-compat.md maps it field by field).
enum Gilgamesh {
    /// One gg result as the old service wrote it; a failed URL is `{status: "error", error, url}`.
    static func result(_ result: [String: Any], url: String) -> [String: Any] {
        if (result["status"] as? String) == "error" {
            let error = result["error"] as? [String: Any]
            return ["status": "error", "error": (error?["message"] as? String) ?? "processing failed", "url": url]
        }
        var out: [String: Any] = ["url": url, "title": result["title"] as? String ?? "", "description": result["description"] as? String ?? "",
                                  "tags": result["tags"] as? [String] ?? []]
        let videos = (result["videos"] as? [[String: Any]] ?? []).map { video -> [String: Any] in
            let scenes = (video["scenes"] as? [[String: Any]] ?? []).map { scene -> [String: Any] in
                var mapped: [String: Any] = ["start": scene["start"] ?? 0, "end": scene["end"] ?? NSNull(), "text": scene["text"] as? String ?? "",
                                             "confidence": ((scene["confidence"] as? Double) ?? 0) / 100]
                if let clip = scene["clip_base64"] as? String { mapped["video"] = clip }
                return mapped
            }
            let transcript = ((video["transcript"] as? [String: Any])?["segments"] as? [[String: Any]] ?? []).map {
                ["start": $0["start"] ?? 0, "end": $0["end"] ?? 0, "text": " " + ($0["text"] as? String ?? "")] as [String: Any]
            }
            return ["id": "\(result["id"] as? String ?? "video")-\(video["index"] as? Int ?? 0)", "scenes": scenes, "transcript": transcript]
        }
        if !videos.isEmpty { out["videos"] = videos }
        let images = (result["images"] as? [[String: Any]] ?? []).map { ["text": $0["text"] as? String ?? ""] }
        if !images.isEmpty { out["images"] = images }
        return out
    }
}
