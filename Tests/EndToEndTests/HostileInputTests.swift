import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Issue 13: each attack of the adversarial probe, reproduced against a hostile server on 127.0.0.1.
final class HostileInputTests: ServerTestCase {
    var work: URL { dir.appendingPathComponent("work") }
    var cache: URL { dir.appendingPathComponent("cache") }

    func fetch(_ urls: [String], _ extra: [String] = [], directory: URL? = nil) throws -> ProcessOutput {
        try tool("gg-fetch", ["--work-dir", work.path, "--cache-dir", cache.path, "--retries", "0"] + extra,
                 stdin: urls.joined(separator: "\n") + "\n", directory: directory)
    }

    /// Runs `arguments` under GNU time; returns the output and the peak resident memory in MiB.
    func measured(_ executable: String, _ arguments: [String], stdin: String) throws -> (ProcessOutput, Double) {
        let report = dir.appendingPathComponent("rss").path
        let output = try runProcess("/usr/bin/time", ["-f", "%M", "-o", report, executable] + arguments, stdin: stdin)
        let kilobytes = Double((try String(contentsOfFile: report, encoding: .utf8)).split(separator: "\n").last ?? "") ?? .infinity
        return (output, kilobytes / 1024)
    }

    func runPipeline(_ lines: [String], _ extra: [String] = []) throws -> ProcessOutput {
        let list = dir.appendingPathComponent("urls.txt")
        try (lines.joined(separator: "\n") + "\n").write(to: list, atomically: true, encoding: .utf8)
        return try runProcess(TestEnv.repo.appendingPathComponent("pipelines/run.sh").path,
                              ["--work-dir", work.path, "--cache-dir", cache.path, "--engine", "sphinx", "--bin", TestEnv.products.path] + extra + [list.path])
    }

    /// A yt-dlp.conf in the current directory made yt-dlp run an --exec command and download media there.
    func testYtDlpConfigInTheWorkingDirectoryIsIgnored() throws {
        let here = dir.appendingPathComponent("cwd")
        try FileManager.default.createDirectory(at: here, withIntermediateDirectories: true)
        let marker = dir.appendingPathComponent("exec-ran").path
        try "--no-simulate\n--exec \"touch \(marker)\"\n-o \"%(id)s.%(ext)s\"\n".write(to: here.appendingPathComponent("yt-dlp.conf"), atomically: true, encoding: .utf8)
        let page = server.url("/page/talk.mp4")
        _ = try runProcess(TestEnv.ytDlp, ["-J", "--no-warnings", page], directory: here)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "yt-dlp itself reads the config: the test is live")
        try FileManager.default.removeItem(atPath: marker)
        let before = try FileManager.default.contentsOfDirectory(atPath: here.path)
        let result = try fetch([page], directory: here)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try result.records()[0].array("items").count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the config's --exec ran")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: here.path), before, "something was written to the working directory")
    }

    /// A URL-list line that was a JSON record with items[].path = a system file went through every stage
    /// and --base64 embedded the file.
    func testJSONLineInAURLListIsAnErrorNotARecord() throws {
        let secret = dir.appendingPathComponent("secret.txt").path
        try "TOP SECRET CONTENT".write(toFile: secret, atomically: true, encoding: .utf8)
        let record = #"{"url":"x","kind":"local","items":[{"index":0,"type":"image","path":"\#(secret)"}]}"#
        let result = try runPipeline([record, TestEnv.fixture("sign.png")], ["--base64"])
        let results = try result.records()
        XCTAssertEqual(results.count, 2, result.stderr)
        XCTAssertEqual(results[0].errorKind, "not_a_url")
        XCTAssertNil(results[1].errorKind)
        XCTAssertFalse(result.stdout.contains(Data("TOP SECRET CONTENT".utf8).base64EncodedString()))
        XCTAssertEqual(result.status, 65)
    }

    /// Records naming files outside the work root are refused by every stage that reads files.
    func testStagesRefuseRecordsPointingOutsideTheWorkRoot() throws {
        let secret = dir.appendingPathComponent("outside.png").path
        try FileManager.default.copyItem(atPath: TestEnv.fixture("sign.png"), toPath: secret)
        let line = #"{"id":"x","url":"x","items":[{"index":0,"type":"image","path":"\#(secret)"}]}"#
        let assembled = try tool("gg-assemble", ["--work-dir", work.path, "--base64"], stdin: line)
        XCTAssertEqual(try assembled.records()[0].array("images")[0].errorKind, "forbidden_path", assembled.stdout)
        XCTAssertNil(try assembled.records()[0].array("images")[0]["base64"])
        XCTAssertEqual(assembled.status, 65)
        let read = try tool("gg-ocr", ["--work-dir", work.path], stdin: line)
        XCTAssertEqual(try read.records()[0].array("items")[0].errorKind, "forbidden_path")
        let video = #"{"id":"x","url":"x","items":[{"index":0,"type":"video","path":"\#(TestEnv.fixture("cuts.mp4"))"}]}"#
        XCTAssertEqual(try tool("gg-scenes", ["--work-dir", work.path], stdin: video).records()[0].array("items")[0].errorKind, "forbidden_path")
        XCTAssertEqual(try tool("gg-transcribe", ["--work-dir", work.path, "--engine", "sphinx"], stdin: video).records()[0].array("items")[0].errorKind,
                       "forbidden_path")
    }

    /// A gzip body of zeros was opened by libavformat's libgme demuxer: 1 MB reached 2.1 GB of memory.
    func testGzipZeroBombIsNotInflated() throws {
        let (result, peak) = try measured(TestEnv.tool("gg-fetch"), ["--work-dir", work.path, "--no-cache"], stdin: server.url("/gzbomb/64") + "\n")
        XCTAssertEqual(try result.records()[0].errorKind, "not_media", result.stderr)
        XCTAssertLessThan(peak, 300, "gg-fetch peaked at \(peak) MiB")
    }

    /// A page served endlessly to yt-dlp's second fetch took it to 8.2 GB in 30 s.
    func testEndlessPageForTheResolverIsCutOff() throws {
        let started = Date()
        let result = try fetch([server.url("/ua-split/talk.mp4")], ["--no-cache", "--resolver-timeout", "30"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 35)
        XCTAssertNotNil(try result.records()[0].errorKind, result.stdout)
        XCTAssertNotEqual(result.status, 0)
    }

    /// A 17 MB og:description made a record line over 16 MiB: the next stage stopped and 3 of 4 URLs
    /// lost their result. A `{not json` line did the same.
    func testHugeDescriptionAndBadLinesCostNoOtherURLItsResult() throws {
        let result = try runPipeline([TestEnv.fixture("sign.png"), server.url("/huge-description/17/noaudio.mp4"), "{not json", server.url("/file/poster.jpg")])
        let results = try result.records()
        XCTAssertEqual(results.count, 4, result.stderr)
        XCTAssertNil(results[0].errorKind)
        XCTAssertNil(results[1].errorKind, result.stderr)
        XCTAssertLessThanOrEqual(results[1].string("description")?.utf8.count ?? .max, 65536)
        XCTAssertTrue(((results[1]["warnings"] as? [String]) ?? []).contains { $0.hasPrefix("description truncated from") })
        XCTAssertEqual(results[2].errorKind, "not_a_url")
        XCTAssertNil(results[3].errorKind)
        XCTAssertEqual(result.status, 65)
    }

    /// A stage whose output record would exceed --max-line-bytes writes a `record_too_large` error in
    /// its place, so the next stage (with the same limit) can still read every line.
    func testOutputRecordsStayUnderTheLineLimit() throws {
        let long = "http://x/" + String(repeating: "a", count: 700)
        let line = #"{"id":"big","url":"\#(long)","items":[{"index":0,"type":"video","path":"\#(TestEnv.fixture("cuts.mp4"))"}]}"#
        let small = #"{"id":"ok","url":"http://x/b"}"#
        let result = try tool("gg-scenes", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--max-line-bytes", "1024"],
                              stdin: line + "\n" + small)
        XCTAssertEqual(result.lines.count, 2)
        XCTAssertTrue(result.lines.allSatisfy { $0.utf8.count <= 1024 }, result.stdout)
        XCTAssertEqual(try result.records().map(\.errorKind), ["record_too_large", nil])
        XCTAssertEqual(try result.records().first?.string("url"), long)
        XCTAssertEqual(result.status, 65)
    }

    /// Loopback, unspecified, decimal and IPv6 forms, and redirects to [::1] and the cloud metadata
    /// address were fetched, with no way to forbid it. Nothing here ever connects to 169.254.169.254.
    func testDenyPrivateRefusesPrivateAddressesAndRedirectsToThem() throws {
        let port = server.port
        let urls = [server.url("/file/sign.png"), "http://127.0.0.2:\(port)/file/sign.png", "http://[::1]:\(port)/file/sign.png",
                    "http://0.0.0.0:\(port)/file/sign.png", "http://2130706434:\(port)/file/sign.png",
                    server.url("/redirect-to/[::1]:\(port)/sign.png"), server.url("/redirect-to/169.254.169.254/sign.png")]
        let result = try fetch(urls, ["--no-cache", "--deny-private", "--allow-host", "127.0.0.1:*"])
        XCTAssertEqual(try result.records().map(\.errorKind), [nil] + Array(repeating: "forbidden_address", count: 6), result.stderr)
        XCTAssertEqual(result.status, 65)
        let counts = try server.requestCounts()
        XCTAssertEqual(counts["/redirect-to/169.254.169.254/sign.png"], 1)
    }

    /// yt-dlp does its own DNS and follows its own redirects: under --deny-private it goes through gg-fetch's
    /// checking proxy, so a page that redirects it to a private or metadata address is refused (resolve, check, pin).
    func testDenyPrivateCoversTheResolversOwnConnections() throws {
        let port = server.port
        let urls = [server.url("/page/talk.mp4"), server.url("/ua-redirect/127.0.0.2:\(port)/talk.mp4"),
                    server.url("/ua-redirect/169.254.169.254/talk.mp4")]
        let result = try fetch(urls, ["--no-cache", "--deny-private", "--allow-host", "127.0.0.1:*"])
        XCTAssertEqual(try result.records().map(\.errorKind), [nil, "forbidden_address", "forbidden_address"], result.stderr)
        XCTAssertTrue(result.stderr.contains("169.254.169.254 is a private, local or reserved address"), result.stderr)
        let open = try fetch([server.url("/ua-redirect/127.0.0.2:\(port)/talk.mp4")], ["--no-cache"])
        XCTAssertNotEqual(try open.records().first?.errorKind, "forbidden_address", "without --deny-private the redirect is followed")
    }

    /// Passwords in URLs went to 0644 cache files, to effective_url and to stderr.
    func testPasswordsInURLsStayOutOfLogsRecordsAndTheCache() throws {
        let withPassword = "http://user:hunter2@127.0.0.1:\(server.port)"
        let urls = ["\(withPassword)/file/sign.png", "\(withPassword)/status/404?token=hunter2"]
        let result = try fetch(urls)
        XCTAssertNil(try result.records()[0].errorKind, result.stderr)
        XCTAssertEqual(try result.records()[1].errorKind, "http_error")
        XCTAssertFalse(result.stderr.contains("hunter2"), result.stderr)
        let elsewhere = urls.reduce(result.stdout) { $0.replacingOccurrences(of: "\"url\":\"\($1)\"", with: "") }
        XCTAssertFalse(elsewhere.contains("hunter2"), "only the record's input url keeps it: \(elsewhere)")
        let files = FileManager.default.enumerator(atPath: cache.path)!.allObjects.compactMap { $0 as? String }
        XCTAssertFalse(files.isEmpty)
        for name in files {
            let path = cache.appendingPathComponent(name).path
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            XCTAssertEqual(mode & 0o077, 0, "\(name) is readable by others: \(String(mode, radix: 8))")
            if !isFolder.boolValue { XCTAssertFalse((try Data(contentsOf: URL(fileURLWithPath: path))).range(of: Data("hunter2".utf8)) != nil, name) }
        }
        XCTAssertEqual(((try FileManager.default.attributesOfItem(atPath: cache.path)[.posixPermissions] as? Int) ?? 0) & 0o077, 0)
    }

    /// yt-dlp loaded plugins from its default plugin folders although run with --ignore-config: a file
    /// planted there ran on every resolve. (The system folder is used here: the user folders are already out
    /// of reach, since resolvers get a private HOME.)
    func testYtDlpPluginsDoNotRun() throws {
        let folder = URL(fileURLWithPath: "/etc/yt-dlp-plugins/gg-test-\(getpid())/yt_dlp_plugins/extractor")
        guard (try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)) != nil else {
            throw XCTSkip("/etc/yt-dlp-plugins is not writable here")
        }
        defer { try? FileManager.default.removeItem(atPath: "/etc/yt-dlp-plugins/gg-test-\(getpid())") }
        let marker = dir.appendingPathComponent("plugin-ran").path
        try "open(\(String(reflecting: marker)), 'w').close()\n".write(to: folder.appendingPathComponent("ggtest.py"), atomically: true, encoding: .utf8)
        _ = try runProcess(TestEnv.ytDlp, ["--ignore-config", "-J", "http://127.0.0.1:1/x.mp4"], directory: dir)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "yt-dlp loads the planted plugin by itself: the test is live")
        try FileManager.default.removeItem(atPath: marker)
        let result = try fetch([server.url("/page/talk.mp4")], ["--no-cache"])
        XCTAssertNil(try result.records().first?.errorKind, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "a yt-dlp plugin ran under gg-fetch")
    }

    /// `--resolver-args "--proxy ..."` (the README's own recipe) came after gg's checking proxy, so
    /// --deny-private silently stopped covering the resolvers.
    func testResolverProxyArgumentIsRefusedUnderDenyPrivate() throws {
        for argument in ["--proxy http://127.0.0.1:3128", "--proxy=http://127.0.0.1:3128"] {
            let result = try fetch([server.url("/page/talk.mp4")], ["--deny-private", "--allow-host", "127.0.0.1:*", "--resolver-args", argument])
            XCTAssertEqual(result.status, 64, argument + ": " + result.stderr)
            XCTAssertTrue(result.stderr.contains("checking proxy"), result.stderr)
        }
    }

    /// ::/96 (IPv4-compatible) and ::ffff:0:0/96 (IPv4-mapped) were not reserved, and --allow-host let
    /// every port of a host through.
    func testEmbeddedIPv4FormsAreRefusedAndAllowHostKeepsToItsPorts() throws {
        let port = server.port
        let embedded = ["http://[::7f00:1]:\(port)/file/sign.png", "http://[::ffff:127.0.0.1]:\(port)/file/sign.png",
                        "http://[::ffff:8.8.8.8]:\(port)/file/sign.png", "http://[2002:7f00:1::1]:\(port)/file/sign.png"]
        let refused = try fetch(embedded, ["--no-cache", "--deny-private", "--allow-host", "127.0.0.1:*"])
        XCTAssertEqual(try refused.records().map(\.errorKind), Array(repeating: "forbidden_address", count: 4), refused.stderr)
        let url = server.url("/file/sign.png")
        let webOnly = try fetch([url], ["--no-cache", "--deny-private", "--allow-host", "127.0.0.1"])
        XCTAssertEqual(try webOnly.records().first?.errorKind, "forbidden_address", "a bare --allow-host is the web's ports only")
        let otherPort = try fetch([url], ["--no-cache", "--deny-private", "--allow-host", "127.0.0.1:\(port == 1 ? 2 : port - 1)"])
        XCTAssertEqual(try otherPort.records().first?.errorKind, "forbidden_address")
        let exact = try fetch([url], ["--no-cache", "--deny-private", "--allow-host", "127.0.0.1:\(port)"])
        XCTAssertNil(try exact.records().first?.errorKind, exact.stderr)
    }

    /// The resolved-page cache kept original_url and Referer with user:password and sig=.
    func testResolvedPageCacheKeepsNoCredentials() throws {
        let page = "http://user:hunter2@127.0.0.1:\(server.port)/page/talk.mp4?sig=s3cr3t"
        let result = try fetch([page])
        XCTAssertNil(try result.records().first?.errorKind, result.stderr)
        let files = FileManager.default.enumerator(atPath: cache.appendingPathComponent("resolved").path)?.allObjects.compactMap { $0 as? String } ?? []
        var read = 0
        for name in files {
            guard let data = FileManager.default.contents(atPath: cache.appendingPathComponent("resolved").appendingPathComponent(name).path) else { continue }
            read += 1
            XCTAssertNil(data.range(of: Data("hunter2".utf8)), name)
            XCTAssertNil(data.range(of: Data("s3cr3t".utf8)), name)
        }
        XCTAssertGreaterThan(read, 0, "the page was cached")
    }

    /// The cache had no size limit and was pruned only on demand, and nothing checked free space before a
    /// download: past --cache-max-bytes the least recently used entries go, and a download that would leave
    /// less than --min-free-bytes free is a retryable 'disk_full' error.
    func testCacheKeepsToItsByteLimitAndLeavesRoomOnDisk() throws {
        let names = ["panfast.mp4", "texturecut.mp4", "captionpop.mp4"]
        let limit = ["--cache-max-bytes", String(1_300_000)]
        for name in names {
            XCTAssertNil(try fetch([server.url("/file/\(name)")], limit).records().first?.errorKind)
            XCTAssertEqual(try fetch([server.url("/file/\(names[0])")], limit).records().first?.array("items").first?.string("cache"), "hit",
                           "the first file, used again after each download, stays")
        }
        let stats = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try fetch([], limit + ["--cache-stats"]).stdout.utf8)) as? [String: Any])
        XCTAssertLessThanOrEqual(stats["bytes"] as? Int ?? .max, 1_300_000, "\(stats)")
        XCTAssertEqual(stats["max_bytes"] as? Int, 1_300_000)
        XCTAssertNotNil(stats["free_bytes"] as? Int)
        XCTAssertEqual(try fetch([server.url("/file/\(names[1])")], limit).records().first?.array("items").first?.string("cache"), "miss",
                       "the least recently used file was evicted")
        let full = try fetch([server.url("/file/sign.png")], ["--min-free-bytes", String(Int.max / 2)])
        XCTAssertEqual(try full.records().first?.errorKind, "disk_full", full.stderr)
        XCTAssertEqual(full.status, 75)
    }

    /// Six 16000x16000 frames took gg-scenes to 4.6 GB: every decoding stage now refuses pictures over --max-pixels.
    func testPixelBombVideoIsRefusedByEveryDecodingStage() throws {
        let (fetched, peak) = try measured(TestEnv.tool("gg-fetch"), ["--work-dir", work.path, "--allow-local", "--no-cache"],
                                           stdin: TestEnv.fixture("pixelbomb.avi") + "\n")
        XCTAssertEqual(try fetched.records()[0].errorKind, "too_many_pixels", fetched.stderr)
        XCTAssertLessThan(peak, 300, "gg-fetch peaked at \(peak) MiB")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let copy = work.appendingPathComponent("bomb.avi").path
        try FileManager.default.copyItem(atPath: TestEnv.fixture("pixelbomb.avi"), toPath: copy)
        let line = #"{"id":"b","url":"b","items":[{"index":0,"type":"video","path":"\#(copy)"}]}"#
        let (scenes, scenesPeak) = try measured(TestEnv.tool("gg-scenes"), ["--work-dir", work.path], stdin: line)
        XCTAssertEqual(try scenes.records()[0].array("items")[0].errorKind, "too_many_pixels", scenes.stderr)
        XCTAssertLessThan(scenesPeak, 300, "gg-scenes peaked at \(scenesPeak) MiB")
    }

    /// A 150 KB WAV (or a FLAC) whose header says 1 Hz claimed 21 hours of audio, grew to 2.1 GB and ran until --timeout.
    func testOneHertzAudioHeadersAreBadMedia() throws {
        let fetched = try fetch(["onehertz.wav", "onehertz.flac"].map(TestEnv.fixture), ["--allow-local"])
        XCTAssertEqual(try fetched.records().map(\.errorKind), ["bad_media", "bad_media"], fetched.stderr)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var lines = [String]()
        for name in ["onehertz.wav", "onehertz.flac"] {
            let copy = work.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: TestEnv.fixture(name), toPath: copy)
            lines.append(#"{"id":"a","url":"a","items":[{"index":0,"type":"audio","path":"\#(copy)"}]}"#)
        }
        let started = Date()
        let transcribed = try tool("gg-transcribe", ["--work-dir", work.path, "--engine", "sphinx"], stdin: lines.joined(separator: "\n"))
        XCTAssertEqual(try transcribed.records().map { $0.array("items")[0].errorKind }, ["bad_media", "bad_media"], transcribed.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    /// Two runs in one folder shared ./gg-work and broke each other: run.sh now makes a work root of its
    /// own per run, and refuses a work root another run holds.
    func testRunsGetTheirOwnWorkRootAndAHeldOneIsRefused() throws {
        let here = dir.appendingPathComponent("cwd")
        try FileManager.default.createDirectory(at: here, withIntermediateDirectories: true)
        let list = dir.appendingPathComponent("urls.txt")
        try (TestEnv.fixture("sign.png") + "\n").write(to: list, atomically: true, encoding: .utf8)
        let script = TestEnv.repo.appendingPathComponent("pipelines/run.sh").path
        let own = try runProcess(script, ["--bin", TestEnv.products.path, "--cleanup", list.path], environment: ["TMPDIR": dir.path], directory: here)
        XCTAssertEqual(own.status, 0, own.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: here.path), [], "run.sh wrote into the working directory")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasPrefix("gg-work.") }, "--cleanup left the run's work root")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [work.path, "sleep", "20"]
        try holder.run()
        defer { holder.terminate() }
        usleep(300_000)
        let refused = try runProcess(script, ["--bin", TestEnv.products.path, "--work-dir", work.path, list.path])
        XCTAssertEqual(refused.status, 75)
        XCTAssertTrue(refused.stderr.contains("another run is using the work root"), refused.stderr)
    }

    /// Keyframes written before a timeout or an I/O error were not in the record, so they survived --cleanup.
    func testCleanupRemovesWhatAFailedRecordWrote() throws {
        let folder = work.appendingPathComponent("r1")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: folder.appendingPathComponent("0-part0-3.jpg"))
        let line = #"{"id":"r1","url":"http://x/a.mp4","error":{"stage":"scenes","kind":"timeout","message":"late","retryable":true}}"#
        let result = try tool("gg-assemble", ["--work-dir", work.path, "--cleanup"], stdin: line)
        XCTAssertEqual(try result.records()[0].errorKind, "timeout")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "the record's folder survived --cleanup")
    }

    /// --cache-clear while another gg-fetch downloaded made that download fail with `io`.
    func testCacheClearDuringADownloadDoesNotBreakIt() throws {
        let downloading = Process()
        downloading.executableURL = URL(fileURLWithPath: TestEnv.tool("gg-fetch"))
        downloading.arguments = ["--work-dir", work.path, "--cache-dir", cache.path]
        let input = Pipe(), output = Pipe()
        downloading.standardInput = input
        downloading.standardOutput = output
        downloading.standardError = FileHandle.nullDevice
        try downloading.run()
        try input.fileHandleForWriting.write(contentsOf: Data((server.url("/slow/1500/cuts.mp4") + "\n").utf8))
        try input.fileHandleForWriting.close()
        usleep(700_000)
        let cleared = try tool("gg-fetch", ["--cache-dir", cache.path, "--cache-clear"])
        XCTAssertEqual(cleared.status, 0, cleared.stderr)
        let out = output.fileHandleForReading.readDataToEndOfFile()
        downloading.waitUntilExit()
        XCTAssertEqual(downloading.terminationStatus, 0, String(decoding: out, as: UTF8.self))
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: out) as? [String: Any])
        XCTAssertNil(record.errorKind)
    }
}
