import Foundation
import GGShared

/// What an input URL points at.
enum URLKind: String {
    case instagramPost = "instagram_post"
    case instagramCarousel = "instagram_carousel"
    case instagramReel = "instagram_reel"
    case youtubeVideo = "youtube_video"
    case youtubeShort = "youtube_short"
    case direct
    case local
}

/// Sorts input URLs into the kinds gg-fetch handles.
enum URLClassifier {
    /// The kind of `raw` and what to fetch. With `allowLocal`, a path (absolute, or relative to the
    /// working folder, like `clip.mp4`) or a file:// URL is a local file; without it, an error.
    static func classify(_ raw: String, allowLocal: Bool = true) -> Result<(URLKind, String), GGError> {
        let result = classifyAny(raw)
        if case .success((.local, _)) = result, !allowLocal {
            return .failure(GGError("unsupported_url", "local files are disabled; pass --allow-local"))
        }
        return result
    }

    private static func classifyAny(_ raw: String) -> Result<(URLKind, String), GGError> {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return .failure(GGError("unsupported_url", "empty URL")) }
        if text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("../") {
            return .success((.local, text))
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            return .success((.local, text))
        }
        if scheme == "file" {
            guard components.host == nil || components.host == "" || components.host == "localhost", !components.path.isEmpty else {
                return .failure(GGError("unsupported_url", "file URLs must name a local path"))
            }
            return .success((.local, components.percentEncodedPath.removingPercentEncoding ?? components.path))
        }
        guard scheme == "http" || scheme == "https", let host = components.host?.lowercased(), !host.isEmpty else {
            return .failure(GGError("unsupported_url", "only http, https and file URLs are supported: \(text)"))
        }
        let path = components.path
        let parts = path.split(separator: "/").map(String.init)
        if host == "instagram.com" || host.hasSuffix(".instagram.com") {
            if let first = parts.first {
                if (first == "reel" || first == "reels" || first == "tv"), parts.count >= 2 { return .success((.instagramReel, text)) }
                if first == "p", parts.count >= 2 { return .success((.instagramPost, text)) }
            }
            return .failure(GGError("unsupported_url", "not an Instagram post or reel: \(text)"))
        }
        if host == "youtu.be" {
            return parts.isEmpty ? .failure(GGError("unsupported_url", "no video id: \(text)")) : .success((.youtubeVideo, text))
        }
        if host == "youtube.com" || host.hasSuffix(".youtube.com") {
            if parts.first == "shorts", parts.count >= 2 { return .success((.youtubeShort, text)) }
            if path == "/watch", components.queryItems?.contains(where: { $0.name == "v" && !($0.value ?? "").isEmpty }) == true {
                return .success((.youtubeVideo, text))
            }
            if (parts.first == "embed" || parts.first == "live" || parts.first == "v"), parts.count >= 2 { return .success((.youtubeVideo, text)) }
            return .failure(GGError("unsupported_url", "not a YouTube video or short: \(text)"))
        }
        return .success((.direct, text))
    }

    /// `#hashtags` in a caption, without the `#`, in order of first appearance.
    static func hashtags(in text: String) -> [String] {
        var tags = [String]()
        var current: String?
        for character in text + " " {
            if character == "#" {
                if let tag = current, !tag.isEmpty { tags.append(tag) }
                current = ""
            } else if var tag = current {
                if character.isLetter || character.isNumber || character == "_" {
                    tag.append(character)
                    current = tag
                } else {
                    if !tag.isEmpty { tags.append(tag) }
                    current = nil
                }
            }
        }
        return tags
    }
}
