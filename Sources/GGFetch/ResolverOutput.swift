import Foundation
import GGShared

/// Reads yt-dlp's `-J` answer: a video, or a playlist (an Instagram carousel) whose failed entries are
/// null; every position of the playlist becomes a slide, one without media a `missing` one.
enum YtDlpOutput {
    /// Keys of an info JSON that downloading does not need and that can be large.
    static let unneeded = ["automatic_captions", "subtitles", "requested_subtitles", "thumbnails", "heatmap", "comments", "description"]

    static func page(from info: [String: Any]) throws -> ResolvedPage {
        let isPlaylist = (info["_type"] as? String) == "playlist" || info["entries"] != nil
        let entries: [Any] = isPlaylist ? ((info["entries"] as? [Any]) ?? []) : [info]
        let positions = (info["requested_entries"] as? [Int]) ?? []
        var slides = [Int: ResolvedMedia]()
        var first: [String: Any]?
        for (offset, value) in entries.enumerated() {
            let entry = value as? [String: Any]
            let position = (offset < positions.count ? positions[offset] : nil) ?? (entry?["playlist_index"] as? Int) ?? offset + 1
            guard let entry else {
                slides[position - 1] = ResolvedMedia(index: position - 1, missing: "yt-dlp could not extract this entry")
                continue
            }
            if first == nil { first = entry }
            slides[position - 1] = media(of: entry, index: position - 1)
        }
        let count = max((info["playlist_count"] as? Int) ?? 0, (slides.keys.max() ?? -1) + 1)
        let media = (0..<count).map { index in
            slides[index] ?? ResolvedMedia(index: index, missing: "yt-dlp listed no media at this position (Instagram image slides need gallery-dl)")
        }
        guard media.contains(where: { $0.missing == nil }) else {
            throw GGError("resolver_failed", "yt-dlp found no downloadable media on the page")
        }
        func field(_ key: String) -> Any? { info[key] ?? first?[key] }
        let description = field("description") as? String
        var tags = (field("tags") as? [String]) ?? []
        for tag in URLClassifier.hashtags(in: [field("title") as? String, description].compactMap { $0 }.joined(separator: " ")) where !tags.contains(tag) {
            tags.append(tag)
        }
        let instagram = (field("extractor_key") as? String)?.lowercased().hasPrefix("instagram") == true
        let uploader = (instagram ? (field("channel") as? String) : nil) ?? (field("uploader") as? String) ?? (field("channel") as? String)
            ?? (field("uploader_id") as? String)
        let duration = number(info["duration"]) ?? (count == 1 ? first.flatMap { number($0["duration"]) } : nil)
        return ResolvedPage(resolver: .ytDlp, title: field("title") as? String, description: description, uploader: uploader,
                            uploaded: uploadTime(timestamp: number(field("timestamp")), date: field("upload_date") as? String),
                            pageUrl: (info["webpage_url"] as? String) ?? (first?["webpage_url"] as? String),
                            duration: duration, tags: tags, media: media, expires: SignedURL.earliestExpiry(of: media), warnings: [])
    }

    private static func media(of entry: [String: Any], index: Int) -> ResolvedMedia {
        let formats = entry["formats"] as? [[String: Any]] ?? []
        guard !formats.isEmpty || entry["url"] is String else {
            return ResolvedMedia(index: index, missing: "yt-dlp listed this entry without media")
        }
        var kept = entry
        for key in unneeded { kept.removeValue(forKey: key) }
        let info = (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
        let urls = ((entry["requested_formats"] as? [[String: Any]]) ?? formats).compactMap { $0["url"] as? String } + [entry["url"] as? String].compactMap { $0 }
        return ResolvedMedia(index: index, url: urls.first, info: info, type: "video")
    }

    static func uploadTime(timestamp: Double?, date: String?) -> String? {
        if let timestamp {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(from: Date(timeIntervalSince1970: timestamp))
        }
        guard let date, date.count == 8, date.allSatisfy(\.isNumber) else { return nil }
        let digits = Array(date)
        return "\(String(digits[0..<4]))-\(String(digits[4..<6]))-\(String(digits[6..<8]))"
    }

    static func number(_ value: Any?) -> Double? {
        (value as? Double) ?? (value as? Int).map(Double.init) ?? (value as? NSNumber)?.doubleValue
    }
}

/// Reads gallery-dl's `-j` answer: `[[2, post], [3, file URL, file], ..., [-1, {error, message}]]`, where
/// each file's `num` is its slide position (from 1) and video slides carry `video_url`.
enum GalleryDLOutput {
    static func page(from messages: [Any], stderr: String) throws -> ResolvedPage {
        var post: [String: Any]?
        var files = [(url: String, file: [String: Any])]()
        var failure: (name: String, message: String)?
        for case let message as [Any] in messages {
            guard let code = message.first as? Int else { continue }
            switch code {
            case 2: if post == nil { post = message.last as? [String: Any] }
            case 3:
                if message.count >= 3, let url = message[1] as? String, let file = message[2] as? [String: Any] { files.append((url, file)) }
            case -1:
                let detail = message.last as? [String: Any]
                failure = ((detail?["error"] as? String) ?? "Error", (detail?["message"] as? String) ?? "")
            default: continue
            }
        }
        guard !files.isEmpty else {
            if let failure {
                throw ResolverDiagnosis.classify("\(failure.name): \(failure.message)", exception: failure.name)
            }
            let lines = ResolverDiagnosis.errorLines(stderr)
            throw ResolverDiagnosis.classify(lines.last ?? "gallery-dl found no media on the page", exception: nil)
        }
        var slides = [Int: ResolvedMedia]()
        for (offset, (url, file)) in files.enumerated() {
            let position = ((file["num"] as? Int) ?? offset + 1) - 1
            guard slides[position] == nil else { continue }
            let videoURL = file["video_url"] as? String
            let isVideo = videoURL != nil && (url == videoURL || url.hasPrefix("ytdl:") || ["mp4", "mov", "webm"].contains(file["extension"] as? String ?? ""))
            let direct = url.hasPrefix("ytdl:") ? videoURL : url
            guard let direct, direct.hasPrefix("http://") || direct.hasPrefix("https://") else {
                slides[position] = ResolvedMedia(index: position, missing: "gallery-dl gave no downloadable URL for this slide (\(url))")
                continue
            }
            slides[position] = ResolvedMedia(index: position, url: direct, headers: isVideo ? ["User-Agent": "Mozilla/5.0"] : [:],
                                             type: isVideo ? "video" : "image")
        }
        let count = (slides.keys.max() ?? -1) + 1
        let media = (0..<count).map { slides[$0] ?? ResolvedMedia(index: $0, missing: "gallery-dl listed no media at this position") }
        let meta = post ?? files[0].file
        let description = meta["description"] as? String
        var tags = URLClassifier.hashtags(in: description ?? "")
        for tag in (meta["tags"] as? [String]) ?? [] where !tags.contains(tag) { tags.append(tag) }
        let username = (meta["username"] as? String) ?? (meta["owner"] as? String)
        var warnings = [String]()
        if let failure { warnings.append("gallery-dl stopped early: \(failure.name): \(failure.message)") }
        warnings += ResolverDiagnosis.errorLines(stderr).map { "gallery-dl: \($0)" }
        return ResolvedPage(resolver: .galleryDl, title: (meta["title"] as? String) ?? username.map { "Post by \($0)" },
                            description: description, uploader: username,
                            uploaded: isoDate((meta["post_date"] as? String) ?? (meta["date"] as? String)),
                            pageUrl: meta["post_url"] as? String, duration: nil, tags: tags, media: media,
                            expires: SignedURL.earliestExpiry(of: media), warnings: warnings)
    }

    /// gallery-dl prints dates as `2024-05-01 12:30:00` (UTC).
    static func isoDate(_ text: String?) -> String? {
        guard let text, text.count == 19 else { return text }
        return text.replacingOccurrences(of: " ", with: "T") + "Z"
    }
}

/// Expiry times that signed media URLs carry: YouTube's `expire=<unix time>`, Instagram's and
/// Facebook's CDN `oe=<hex unix time>`.
enum SignedURL {
    static func expiry(of url: String) -> Double? {
        guard let items = URLComponents(string: url)?.queryItems else { return nil }
        if let value = items.first(where: { $0.name == "expire" })?.value, let seconds = Double(value) { return seconds }
        if let value = items.first(where: { $0.name == "oe" })?.value, let seconds = UInt64(value, radix: 16) { return Double(seconds) }
        return nil
    }

    static func earliestExpiry(of media: [ResolvedMedia]) -> Double? {
        media.compactMap { $0.url.flatMap(expiry(of:)) }.min()
    }
}
