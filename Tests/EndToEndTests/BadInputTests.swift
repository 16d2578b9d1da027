import Foundation
import XCTest

/// The bad-input corpus through every stage: each input gives a typed error, nothing crashes,
/// nothing outside the work root is deleted, and no argument reaches a shell.
final class BadInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        dir = TestEnv.temporaryDirectory()
    }

    /// The corpus as records whose files are copies under the work root (stages read nothing elsewhere).
    func corpus() throws -> [String] {
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        func copy(_ name: String, as copyName: String? = nil) throws -> String {
            let path = work.appendingPathComponent(copyName ?? name).path
            if !FileManager.default.fileExists(atPath: path) { try FileManager.default.copyItem(atPath: TestEnv.fixture(name), toPath: path) }
            return path
        }
        var lines = [String]()
        func item(_ path: String, _ type: String) -> String {
            let escaped = String(decoding: try! JSONSerialization.data(withJSONObject: [path], options: [.withoutEscapingSlashes]), as: UTF8.self).dropFirst().dropLast()
            return #"{"id":"x\#(lines.count)","url":"u\#(lines.count)","kind":"local","items":[{"index":0,"type":"\#(type)","path":\#(escaped)}]}"#
        }
        for name in ["empty.mp4", "cut-short.mp4", "truncated.mp4", "text.mp4"] { lines.append(item(try copy(name), "video")) }
        lines.append(item(try copy("bomb.png"), "image"))
        lines.append(item(try copy("text.mp4"), "image"))
        for name in ["a b.mp4", "q\"uo'te $(x).mp4", "new\nline.mp4"] { lines.append(item(try copy("talk.mp4", as: name), "video")) }
        lines.append("{\"url\": ")
        lines.append(String(repeating: "y", count: 70_000))
        lines.append("\u{FEFF}not json at all")
        return lines
    }

    func testEveryStageSurvivesTheCorpus() throws {
        var input = try corpus().joined(separator: "\n") + "\n"
        var bytes = Data(input.utf8)
        bytes.append(contentsOf: [0xc3, 0x28, 0x0a])
        input = String(decoding: bytes, as: UTF8.self)
        let file = dir.appendingPathComponent("corpus.ndjson")
        try bytes.write(to: file)
        let work = dir.appendingPathComponent("work").path
        let expectedLines = input.split(separator: "\n", omittingEmptySubsequences: true).count
        var stdin = try String(contentsOf: file, encoding: .isoLatin1)
        for stage in ["gg-scenes", "gg-ocr", "gg-transcribe", "gg-assemble"] {
            let result = try runProcess(TestEnv.tool(stage), ["--keep-going", "--max-line-bytes", "65536", "--work-dir", work, stage == "gg-scenes" ? file.path : "-"],
                                        stdin: stage == "gg-scenes" ? "" : stdin)
            XCTAssertTrue([0, 65].contains(result.status), "\(stage) exited \(result.status): \(result.stderr)")
            XCTAssertEqual(result.lines.count, expectedLines, "\(stage): one output per input line")
            for record in try result.records() {
                let errors = [record.dict("error")] + record.array("items").map { $0.dict("error") } + record.array("videos").map { $0.dict("error") }
                for error in errors.compactMap({ $0 }) {
                    XCTAssertNotNil(error.string("kind"), "\(stage): untyped error \(error)")
                    XCTAssertFalse(error.string("message")?.isEmpty ?? true)
                }
            }
            stdin = result.stdout
        }
        let results = try ProcessOutput(status: 0, stdout: stdin, stderr: "").records()
        XCTAssertEqual(results[0].errorKind, "not_media")
        XCTAssertEqual(results[2].errorKind, "not_media", "missing moov")
        XCTAssertEqual(results[4].errorKind, "too_many_pixels")
        XCTAssertEqual(results[5].errorKind, "unreadable_image")
        for i in 6...8 {
            XCTAssertEqual(results[i].string("status"), "success", "odd file names work: \(results[i])")
            XCTAssertEqual(results[i].array("videos").first?.array("scenes").count, 2)
        }
        XCTAssertEqual(results[9...].map(\.errorKind), Array(repeating: "malformed_record", count: 4))
    }

    func testArgumentsNeverReachAShell() throws {
        let server = try TestServer()
        let marker = dir.appendingPathComponent("pwned").path
        let urls = [server.url("/page/noaudio.mp4?a=$(touch%20\(marker))"), server.url("/page/noaudio.mp4;touch \(marker)"),
                    server.url("/html`touch \(marker)`")]
        let result = try tool("gg-fetch", ["--work-dir", dir.appendingPathComponent("work").path, "--no-cache"], stdin: urls.joined(separator: "\n"))
        XCTAssertEqual(result.lines.count, 3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    /// A resolver gets a URL full of shell syntax as one argument, unchanged, after `--`: a shell in
    /// between would split it at `;` and run `$(...)`.
    func testResolverGetsTheURLAsOneArgument() throws {
        let resolver = dir.appendingPathComponent("yt-dlp"), argv = dir.appendingPathComponent("argv.txt")
        let marker = dir.appendingPathComponent("ran").path
        try "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \(argv.path)\nexit 1\n".write(to: resolver, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: resolver.path)
        let url = "https://www.youtube.com/watch?v=abc;touch%20\(marker)&t=$(touch%20\(marker))"
        let result = try tool("gg-fetch", ["--work-dir", dir.appendingPathComponent("work").path, "--no-cache", "--yt-dlp", resolver.path], stdin: url)
        XCTAssertEqual(result.lines.count, 1)
        let arguments = try String(contentsOf: argv, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(arguments.suffix(2)), ["--", url], "\(arguments)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }
}
