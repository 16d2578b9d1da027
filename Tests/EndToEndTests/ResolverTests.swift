import Foundation
import XCTest

/// gg-fetch's resolver chain on recorded yt-dlp and gallery-dl answers (Tests/Support/fake-resolver), with
/// the media served from 127.0.0.1 and yt-dlp's own downloads done by the real yt-dlp that
/// scripts/setup-resolvers installs.
final class ResolverTests: XCTestCase {
    var server: TestServer!
    var work: URL!
    var cache: URL!
    var fakes: URL!
    var log: URL!

    static var realYtDlp: String { TestEnv.ytDlp }

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        guard FileManager.default.isExecutableFile(atPath: ResolverTests.realYtDlp) else {
            XCTFail("yt-dlp is not set up: run scripts/setup-resolvers")
            throw XCTSkip("no yt-dlp")
        }
        server = try TestServer()
        let base = TestEnv.temporaryDirectory()
        work = base.appendingPathComponent("work")
        cache = base.appendingPathComponent("cache")
        fakes = base.appendingPathComponent("bin")
        log = base.appendingPathComponent("calls.ndjson")
        try FileManager.default.createDirectory(at: fakes, withIntermediateDirectories: true)
        let script = TestEnv.repo.appendingPathComponent("Tests/Support/fake-resolver/resolver.py").path
        for name in ["yt-dlp", "gallery-dl"] {
            try FileManager.default.createSymbolicLink(atPath: fakes.appendingPathComponent(name).path, withDestinationPath: script)
        }
        let settings = ["base": server.url(""), "log": log.path, "real_ytdlp": ResolverTests.realYtDlp]
        try JSONSerialization.data(withJSONObject: settings).write(to: fakes.appendingPathComponent("fake.json"))
    }

    override func tearDown() { server = nil }

    func fetch(_ urls: [String], _ extra: [String] = [], fake: Bool = true) throws -> ProcessOutput {
        let resolvers = fake ? ["--yt-dlp", fakes.appendingPathComponent("yt-dlp").path, "--gallery-dl", fakes.appendingPathComponent("gallery-dl").path] : []
        return try tool("gg-fetch", ["--work-dir", work.path, "--cache-dir", cache.path, "--retries", "0"] + resolvers + extra,
                        stdin: urls.joined(separator: "\n") + "\n")
    }

    func calls() throws -> [[String: Any]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func resolutions(_ tool: String) throws -> Int {
        try calls().filter { $0.string("tool") == tool && !(($0["args"] as? [String]) ?? []).contains("--load-info-json") }.count
    }

    /// Image posts were `resolver_failed` and a carousel [image, video, image, video] came out as two items.
    func testImagePostAndMixedCarouselKeepEverySlideInPostOrder() throws {
        let result = try fetch(["https://www.instagram.com/p/IMAGEPOST/", "https://www.instagram.com/p/MIXED/"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try result.records()
        let post = records[0]
        XCTAssertEqual(post.string("kind"), "instagram_post")
        XCTAssertEqual(post.array("items").map { $0.string("type") }, ["image"])
        XCTAssertEqual(post.string("title"), "Post by shopkeeper")
        XCTAssertEqual(post.string("description"), "BIG SALE today only\n#sale #deals")
        XCTAssertEqual(post["tags"] as? [String], ["sale", "deals"])
        XCTAssertEqual(post.string("uploader"), "shopkeeper")
        XCTAssertEqual(post.string("uploaded"), "2025-06-01T10:20:30Z")
        XCTAssertEqual(post.string("page_url"), "https://www.instagram.com/p/IMAGEPOST/")
        let carousel = records[1]
        XCTAssertEqual(carousel.string("kind"), "instagram_carousel")
        let items = carousel.array("items")
        XCTAssertEqual(items.map { $0["index"] as? Int }, [0, 1, 2, 3])
        XCTAssertEqual(items.map { $0.string("type") }, ["image", "video", "image", "video"])
        XCTAssertEqual(items.map { $0.string("source_url")?.components(separatedBy: "?")[0] },
                       ["poster.jpg", "noaudio.mp4", "sign.png", "cuts.mp4"].map { server.url("/file/\($0)") })
        XCTAssertTrue(items.allSatisfy { $0["error"] == nil && FileManager.default.fileExists(atPath: $0.string("path") ?? "") })
        let ran = try calls()
        XCTAssertEqual(ran.map { $0.string("tool") }, ["gallery-dl", "gallery-dl"], "gallery-dl answered, so yt-dlp never ran")
        for call in ran {
            XCTAssertTrue((call["args"] as? [String])?.contains("--config-ignore") == true)
            XCTAssertNotEqual(call.string("cwd"), FileManager.default.currentDirectoryPath, "resolvers run in a private empty folder")
        }
    }

    /// With gallery-dl failing, yt-dlp's carousel has null entries for image slides: each keeps its position
    /// as an error item, and the record says why gallery-dl was passed over.
    func testYtDlpFallbackKeepsSlidePositions() throws {
        let result = try fetch(["https://www.instagram.com/p/MIXEDYT/"])
        let record = try XCTUnwrap(try result.records().first)
        XCTAssertNil(record["error"], result.stderr)
        let items = record.array("items")
        XCTAssertEqual(items.map { $0["index"] as? Int }, [0, 1, 2, 3])
        XCTAssertEqual(items.map(\.errorKind), ["missing_media", nil, "missing_media", nil])
        XCTAssertEqual(items[1]["width"] as? Int, 320)
        XCTAssertEqual(items[3]["has_audio"] as? Bool, true)
        XCTAssertEqual(record.string("kind"), "instagram_carousel")
        let warnings = (record["warnings"] as? [String]) ?? []
        XCTAssertTrue(warnings.contains { $0.hasPrefix("gallery-dl failed (network)") }, "\(warnings)")
        XCTAssertEqual(try calls().map { $0.string("tool") }, ["gallery-dl", "yt-dlp", "yt-dlp", "yt-dlp"], "one extraction, then yt-dlp downloads slides 2 and 4")
    }

    /// YouTube was fetched as the 360p progressive file; reels and videos are now downloaded by yt-dlp from
    /// its own info JSON: the best video up to --max-height merged with the best audio.
    func testYtDlpDownloadsBestVideoUpToMaxHeightMergedWithAudio() throws {
        let urls = ["https://www.instagram.com/reel/REEL1/", "https://www.youtube.com/watch?v=VIDEO000001", "https://www.youtube.com/shorts/SHORT000001"]
        let result = try fetch(urls)
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try result.records()
        XCTAssertEqual(records.map { $0.string("kind") }, ["instagram_reel", "youtube_video", "youtube_short"])
        let videos = records.map { $0.array("items")[0] }
        XCTAssertEqual(videos.map { $0["height"] as? Int }, [480, 720, 720])
        XCTAssertEqual(videos.map { $0["has_audio"] as? Bool }, [true, true, true])
        XCTAssertEqual(videos[1].double("duration") ?? 0, 3, accuracy: 0.1)
        XCTAssertEqual(records[0].string("uploader"), "creator")
        XCTAssertEqual(records[0]["tags"] as? [String], ["reels", "fun"])
        XCTAssertEqual(records[1].string("title"), "How captions work")
        XCTAssertEqual(records[1].string("uploader"), "Caption Lab")
        XCTAssertEqual(records[1].string("uploaded"), "2025-01-01T12:00:00Z")
        XCTAssertEqual(records[1].string("page_url"), urls[1])
        XCTAssertEqual(records[1]["tags"] as? [String], ["captions", "ocr", "video"])
        XCTAssertEqual(records[2].string("description"), "")
        let ran = try calls()
        XCTAssertEqual(ran.filter { ($0["args"] as? [String])?.contains("-J") == true }.count, 3, "one extraction per URL")
        let downloads = ran.compactMap { $0["args"] as? [String] }.filter { $0.contains("--load-info-json") }
        XCTAssertEqual(downloads.count, 3, "yt-dlp downloads from the info JSON it produced")
        XCTAssertTrue(downloads.allSatisfy { $0.contains("bv*[height<=720]+ba/b[height<=720]/bv*+ba/b") })
        let lower = try fetch([urls[1]], ["--max-height", "480", "--no-cache"])
        XCTAssertEqual(try lower.records()[0].array("items")[0]["height"] as? Int, 480, lower.stderr)
    }

    /// yt-dlp's own downloads keep gg-fetch's --max-bytes: a larger merge is a `too_large` error, not a file.
    func testYtDlpDownloadsKeepTheSizeLimit() throws {
        let result = try fetch(["https://www.youtube.com/watch?v=VIDEO000001"], ["--max-bytes", "20000", "--no-cache"])
        XCTAssertEqual(try result.records()[0].errorKind, "too_large", result.stderr)
        XCTAssertEqual(result.status, 65)
    }

    func testResolverFailuresAreClassified() throws {
        let urls = ["https://www.instagram.com/p/PRIVATE1/", "https://www.instagram.com/p/LOGIN1/", "https://www.instagram.com/reel/NETFAIL/",
                    "https://www.youtube.com/watch?v=PRIVATEVID1", "https://www.instagram.com/p/UNKNOWN1/"]
        let result = try fetch(urls)
        let records = try result.records()
        XCTAssertEqual(records.map(\.errorKind), ["unavailable", "auth_required", "network", "unavailable", "unsupported_url"])
        XCTAssertEqual(records.map { $0.dict("error")?["retryable"] as? Bool }, [false, false, true, false, false])
        let login = try XCTUnwrap(records[1].dict("error")?.string("message"))
        XCTAssertTrue(login.contains("gallery-dl: ") && login.contains("; yt-dlp: "), "each resolver's own message: \(login)")
        XCTAssertTrue(login.contains("--cookies FILE"), login)
        XCTAssertEqual(result.status, 65, "bad data outranks retry-later")
        XCTAssertEqual(try fetch([urls[2]]).status, 75, "a network failure alone is retryable")
    }

    func testCookiesAndResolverArgumentsReachBothResolvers() throws {
        let cookies = work.deletingLastPathComponent().appendingPathComponent("cookies.txt")
        try "# Netscape HTTP Cookie File\n.instagram.com\tTRUE\t/\tTRUE\t0\tsessionid\tabc\n".write(to: cookies, atomically: true, encoding: .utf8)
        _ = try fetch(["https://www.instagram.com/p/LOGIN1/"], ["--cookies", cookies.path, "--resolver-args", "--user-agent gg-test"])
        let ran = try calls()
        XCTAssertEqual(ran.map { $0.string("tool") }, ["gallery-dl", "yt-dlp"])
        for call in ran {
            let args = (call["args"] as? [String]) ?? []
            XCTAssertEqual(args.firstIndex(of: "--cookies").map { args[$0 + 1] }, cookies.path)
            XCTAssertEqual(args.firstIndex(of: "--user-agent").map { args[$0 + 1] }, "gg-test")
        }
    }

    /// Resolved (signed, short-lived) URLs were cached for the media TTL of 7 days.
    func testResolutionsAreCachedBrieflyAndReResolvedWhenTheirURLsExpire() throws {
        let url = "https://www.instagram.com/p/EXPIRES/"
        XCTAssertEqual(try fetch([url]).status, 0)
        let second = try fetch([url])
        XCTAssertEqual(try second.records()[0].array("items")[0].string("cache"), "hit")
        XCTAssertEqual(try resolutions("gallery-dl"), 1, "the resolution is cached")
        try FileManager.default.removeItem(at: cache.appendingPathComponent("objects"))
        let third = try fetch([url])
        XCTAssertNil(try third.records()[0]["error"], third.stdout)
        XCTAssertEqual(try resolutions("gallery-dl"), 2, "a cached URL answering 403 is resolved again, once")
        XCTAssertEqual(try server.requestCounts()["/once/expires-1/poster.jpg?oe=7FFFFFFF"], 2)
        XCTAssertEqual(try fetch([url], ["--resolve-ttl", "0s"]).status, 0)
        XCTAssertEqual(try resolutions("gallery-dl"), 3, "--resolve-ttl bounds the resolution cache")
    }

    /// HLS manifests were downloaded with curl as if they were media (`not_media`).
    func testRealYtDlpDownloadsHLSAndOgVideoPages() throws {
        let result = try fetch([server.url("/tree/hls/index.m3u8"), server.url("/page/noaudio.mp4"), server.url("/tree/dash/manifest.mpd")], fake: false)
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try result.records()
        let hls = records[0].array("items")[0]
        XCTAssertEqual(hls.double("duration") ?? 0, 5, accuracy: 0.2)
        XCTAssertEqual(hls["has_audio"] as? Bool, true)
        XCTAssertEqual(records[1].string("description"), "A test clip #gg #testing")
        XCTAssertEqual(records[1].array("items")[0]["width"] as? Int, 320)
        let dash = records[2].array("items")[0]
        XCTAssertEqual(dash["has_audio"] as? Bool, true, "DASH video and audio merged")
        XCTAssertEqual(dash["width"] as? Int, 640)
    }

    func testVersionNamesEachResolver() throws {
        let result = try tool("gg-fetch", ["--version"])
        XCTAssertEqual(result.status, 0)
        for name in ["yt-dlp", "gallery-dl"] {
            XCTAssertTrue(result.stdout.contains("\(name) ") && result.stdout.contains(".tools/venv/bin/\(name))"), result.stdout)
        }
    }
}
