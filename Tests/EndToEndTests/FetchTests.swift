import Foundation
import XCTest

/// gg-fetch against a real HTTP server on 127.0.0.1.
final class FetchTests: XCTestCase {
    var server: TestServer!
    var work: URL!
    var cache: URL!

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        server = try TestServer()
        work = TestEnv.temporaryDirectory().appendingPathComponent("work")
        cache = TestEnv.temporaryDirectory().appendingPathComponent("cache")
    }

    override func tearDown() { server = nil }

    func fetch(_ urls: [String], _ extra: [String] = []) throws -> ProcessOutput {
        try tool("gg-fetch", ["--work-dir", work.path, "--cache-dir", cache.path, "--retry-delay", "0.05"] + extra, stdin: urls.joined(separator: "\n") + "\n")
    }

    func testDownloadsAndProbesMedia() throws {
        let result = try fetch([server.url("/file/cuts.mp4"), server.url("/file/poster.jpg")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try result.records()
        let video = records[0].array("items")[0]
        XCTAssertEqual(records[0].string("kind"), "direct")
        XCTAssertEqual(records[0].string("title"), "cuts.mp4", "direct media: the file name is the title")
        XCTAssertEqual(records[0].string("description"), "")
        XCTAssertEqual(records[0]["tags"] as? [String], [])
        XCTAssertEqual(video.string("type"), "video")
        XCTAssertEqual(video.double("duration") ?? 0, 5, accuracy: 0.05)
        XCTAssertEqual(video["width"] as? Int, 640)
        XCTAssertEqual(video["has_audio"] as? Bool, true)
        let path = try XCTUnwrap(video.string("path"))
        XCTAssertTrue(path.hasPrefix(work.path + "/" + (records[0].string("id") ?? "?") + "/"), path)
        XCTAssertFalse(path.contains("cuts"), "names come from hashes, never from the remote side")
        XCTAssertTrue(path.hasSuffix(".mp4"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: TestEnv.fixture("cuts.mp4"))))
        let image = records[1].array("items")[0]
        XCTAssertEqual(image.string("type"), "image")
        XCTAssertTrue(image.string("path")?.hasSuffix(".jpg") == true)
    }

    func testHTTPFailuresBecomeTypedErrors() throws {
        let result = try fetch([server.url("/status/404"), server.url("/big/3000000"), server.url("/file/text.mp4"),
                                server.url("/redirect-file"), server.url("/html"), "ftp://127.0.0.1/x", "gopher://x"],
                               ["--max-bytes", "1000000", "--retries", "0"])
        let kinds = try result.records().map(\.errorKind)
        XCTAssertEqual(kinds, ["http_error", "too_large", "not_media", "unsupported_url", "not_media", "unsupported_url", "unsupported_url"])
        XCTAssertEqual(result.status, 65)
        XCTAssertEqual(try server.requestCounts()["/status/404"], 1, "a 404 is not retried")
    }

    func testRetriesTransientFailuresWithBackoff() throws {
        let result = try fetch([server.url("/flaky/a/2/sign.png"), server.url("/flaky/b/9/sign.png"), server.url("/truncated/cuts.mp4")], ["--retries", "2"])
        let records = try result.records()
        XCTAssertNil(records[0]["error"], "succeeds on the third attempt")
        XCTAssertEqual(records[1].errorKind, "http_error")
        XCTAssertEqual(records[1].dict("error")?["retryable"] as? Bool, true)
        XCTAssertEqual(records[2].errorKind, "network")
        XCTAssertEqual(records[2].dict("error")?["retryable"] as? Bool, true)
        let counts = try server.requestCounts()
        XCTAssertEqual(counts["/flaky/a/2/sign.png"], 3)
        XCTAssertEqual(counts["/flaky/b/9/sign.png"], 3)
        XCTAssertEqual(counts["/truncated/cuts.mp4"], 3)
        XCTAssertEqual(result.status, 75)
    }

    func testSlowServerHitsDownloadTimeout() throws {
        let result = try fetch([server.url("/slow/3000/sign.png")], ["--download-timeout", "0.5", "--retries", "1"])
        let record = try XCTUnwrap(try result.records().first)
        XCTAssertEqual(record.errorKind, "timeout")
        XCTAssertEqual(result.status, 75)
    }

    func testRedirectsFollowedWithinLimit() throws {
        let result = try fetch([server.url("/redirect/3/sign.png"), server.url("/redirect/9/sign.png")], ["--max-redirects", "5"])
        let records = try result.records()
        XCTAssertNil(records[0]["error"])
        XCTAssertEqual(records[1].errorKind, "too_many_redirects")
    }

    func testHTMLPageResolvesThroughYtDlp() throws {
        let result = try fetch([server.url("/page/noaudio.mp4"), server.url("/carousel/noaudio.mp4/poster.jpg")])
        let records = try result.records()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(records[0].string("description"), "A test clip #gg #testing")
        XCTAssertEqual(records[0]["tags"] as? [String], ["gg", "testing"])
        XCTAssertEqual(records[0].array("items").count, 1)
        XCTAssertEqual(records[0].array("items")[0].string("source_url"), server.url("/file/noaudio.mp4"))
        let carousel = records[1].array("items")
        XCTAssertEqual(carousel.map { $0["index"] as? Int }, [0, 1])
        XCTAssertEqual(carousel.map { $0.string("source_url") }, [server.url("/file/noaudio.mp4"), server.url("/file/poster.jpg")])
        XCTAssertEqual(carousel.map { $0.string("type") }, ["video", "image"])
    }

    func testMissingResolverIsReported() throws {
        let result = try fetch(["https://www.instagram.com/p/ABC123/", "https://youtu.be/xyz"], ["--yt-dlp", "/nonexistent/yt-dlp", "--gallery-dl", "/nonexistent/gallery-dl"])
        XCTAssertEqual(try result.records().map(\.errorKind), ["resolver_unavailable", "resolver_unavailable"])
        XCTAssertEqual(try result.records().map { $0.string("kind") }, ["instagram_post", "youtube_video"])
        XCTAssertEqual(result.status, 69)
    }

    func testCacheServesRepeatsAndReportsStats() throws {
        let url = server.url("/file/cuts.mp4")
        XCTAssertEqual(try fetch([url]).status, 0)
        let again = try fetch([url, url])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(try server.requestCounts()[url.replacingOccurrences(of: server.url(""), with: "")], 1, "the cache answers repeats")
        let stats = try tool("gg-fetch", ["--cache-dir", cache.path, "--cache-stats"])
        let object = try XCTUnwrap(try stats.records().first)
        XCTAssertEqual(object["entries"] as? Int, 1)
        XCTAssertEqual(object["bytes"] as? Int, try Data(contentsOf: URL(fileURLWithPath: TestEnv.fixture("cuts.mp4"))).count)
        XCTAssertNotNil(object["oldest"])
        XCTAssertEqual(object.double("ttl_seconds"), 7 * 86400)
        let kept = try tool("gg-fetch", ["--cache-dir", cache.path, "--cache-prune", "1h"])
        XCTAssertEqual(kept.stdout, "{\"removed\":0,\"failed\":0}\n")
        let pruned = try tool("gg-fetch", ["--cache-dir", cache.path, "--cache-prune", "0s"])
        XCTAssertEqual(pruned.stdout, "{\"removed\":1,\"failed\":0}\n")
        XCTAssertEqual(try fetch([url]).status, 0)
        XCTAssertEqual(try tool("gg-fetch", ["--cache-dir", cache.path, "--cache-clear"]).stdout, "{\"removed\":1,\"failed\":0}\n")
        XCTAssertEqual(try fetch([url], ["--cache-ttl", "0s"]).status, 0)
        XCTAssertEqual(try server.requestCounts()["/file/cuts.mp4"], 3)
    }

    func testTwoProcessesShareOneCache() throws {
        let urls = (0..<12).map { server.url("/slow/50/\(["cuts.mp4", "poster.jpg", "sign.png"][$0 % 3])?k=\($0 % 6)") }
        let script = """
        a() { "\(TestEnv.tool("gg-fetch"))" --jobs 3 --work-dir "\(work.path)/$1" --cache-dir "\(cache.path)"; }
        printf '%s\\n' \(urls.map { "'\($0)'" }.joined(separator: " ")) > "\(work.path).urls"
        a one < "\(work.path).urls" > "\(work.path).1" & a two < "\(work.path).urls" > "\(work.path).2"; wait
        """
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        XCTAssertEqual(try runProcess("/bin/bash", ["-c", script]).status, 0)
        for suffix in [".1", ".2"] {
            let records = try ProcessOutput(status: 0, stdout: String(contentsOfFile: work.path + suffix, encoding: .utf8), stderr: "").records()
            XCTAssertEqual(records.count, 12)
            for (record, url) in zip(records, urls) {
                XCTAssertNil(record["error"], "\(record)")
                let path = try XCTUnwrap(record.array("items").first?.string("path"))
                let expected = url.contains("cuts") ? "cuts.mp4" : url.contains("poster") ? "poster.jpg" : "sign.png"
                XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: TestEnv.fixture(expected))))
            }
        }
        let stats = try tool("gg-fetch", ["--cache-dir", cache.path, "--cache-stats"]).records()[0]
        XCTAssertEqual(stats["entries"] as? Int, 6)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("tmp").path)) ?? []
        XCTAssertEqual(leftovers, [], "no temporary files are left behind")
    }

    func testLocalFilesNeedAllowLocal() throws {
        let path = TestEnv.fixture("sign.png")
        XCTAssertEqual(try fetch([path]).records()[0].errorKind, "unsupported_url")
        let allowed = try fetch([path, "file://" + path, TestEnv.fixture("empty.mp4"), TestEnv.fixture("nothing-here.mp4")], ["--allow-local"])
        let records = try allowed.records()
        for record in records.prefix(2) {
            let item = record.array("items")[0]
            let copy = try XCTUnwrap(item.string("path"))
            XCTAssertTrue(copy.hasPrefix(work.path + "/"), "local files are linked or copied into the work root: \(copy)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(item.string("source_url"), "file://" + path)
            XCTAssertEqual(record.string("title"), "sign.png")
        }
        XCTAssertEqual(records[2].errorKind, "not_media")
        XCTAssertEqual(records[3].errorKind, "no_input")
    }

    /// URL lists hold URLs: a JSON line is an error result in its place, never a record (issue 13).
    func testJSONLinesAreErrorResultsNotRecords() throws {
        let input = #"{"url": "\#(server.url("/file/sign.png"))", "title": "mine"}"# + "\n" + server.url("/file/sign.png")
        let result = try tool("gg-fetch", ["--work-dir", work.path, "--no-cache"], stdin: input)
        let records = try result.records()
        XCTAssertEqual(records.map(\.errorKind), ["not_a_url", nil])
        XCTAssertNil(records[0].string("title"))
        XCTAssertEqual(result.status, 65)
    }
}
