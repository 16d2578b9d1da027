import Foundation
import XCTest

/// The shared stage runner, exercised through the real executables.
final class RunnerTests: XCTestCase {
    override func setUpWithError() throws { try TestEnv.ensureFixtures() }

    func testBrokenPipeIntoHeadIsCleanExit() throws {
        let input = TestEnv.temporaryDirectory().appendingPathComponent("urls.txt")
        try (1...30000).map { "ftp://example.invalid/\($0)" }.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        let script = """
        set -o pipefail
        "\(TestEnv.tool("gg-fetch"))" "\(input.path)" 2>/dev/null | head -n 1
        """
        let result = try runProcess("/bin/bash", ["-c", script])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.lines.count, 1)
    }

    func testOutputKeepsInputOrderUnderJobs() throws {
        let server = try TestServer()
        let delays = [1200, 10, 600, 10, 300, 10]
        let input = delays.enumerated().map { server.url("/slow/\($1)/sign.png?n=\($0)") }.joined(separator: "\n")
        let work = TestEnv.temporaryDirectory()
        let result = try tool("gg-fetch", ["--jobs", "2", "--no-cache", "--work-dir", work.path, "--allow-root", TestEnv.fixtures.path], stdin: input)
        XCTAssertEqual(result.status, 0, result.stderr)
        let urls = try result.records().map { $0.string("url") ?? "" }
        XCTAssertEqual(urls, input.split(separator: "\n").map(String.init))
    }

    func testTimeoutGivesRetryableErrorRecordAndRunGoesOn() throws {
        let server = try TestServer()
        let input = [server.url("/slow/5000/sign.png"), server.url("/file/sign.png")].joined(separator: "\n")
        let work = TestEnv.temporaryDirectory()
        let result = try tool("gg-fetch", ["--timeout", "1", "--no-cache", "--work-dir", work.path, "--allow-root", TestEnv.fixtures.path], stdin: input)
        let records = try result.records()
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].errorKind, "timeout")
        XCTAssertEqual(records[0].dict("error")?["retryable"] as? Bool, true)
        XCTAssertNil(records[1]["error"])
        XCTAssertEqual(result.status, 75, "a transient failure alone exits 75")
        XCTAssertTrue(result.stderr.contains("<stdin>:1: error: timeout"), result.stderr)
    }

    /// A record stage without --keep-going stops at a malformed line, naming it (gg-fetch, whose input
    /// is a URL list, always turns a bad line into an error result instead).
    func testMalformedLineStopsWithPosition() throws {
        let input = "{\"id\":\"a\",\"url\":\"a\"}\n{\"url\": \n{\"id\":\"b\",\"url\":\"b\"}\n"
        let work = TestEnv.temporaryDirectory()
        let result = try tool("gg-scenes", ["--work-dir", work.path], stdin: input)
        XCTAssertEqual(result.status, 65)
        XCTAssertEqual(result.lines.count, 1)
        XCTAssertTrue(result.stderr.contains("gg-scenes: <stdin>:2: error: malformed record"), result.stderr)
        let fetched = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path], stdin: "\(TestEnv.fixture("sign.png"))\n{\"url\": \n")
        XCTAssertEqual(fetched.lines.count, 2)
        XCTAssertEqual(fetched.status, 65)
    }

    func testKeepGoingTurnsBadLinesIntoErrorRecords() throws {
        var input = Data("\(TestEnv.fixture("sign.png"))\n{\"url\": 3}\n".utf8)
        input.append(contentsOf: [0xff, 0xfe, 0x41, 0x0a])
        input.append(Data((String(repeating: "x", count: 5000) + "\n").utf8))
        input.append(Data("\(TestEnv.fixture("poster.jpg"))\n".utf8))
        let work = TestEnv.temporaryDirectory()
        let inputFile = work.appendingPathComponent("in.txt")
        try input.write(to: inputFile)
        let result = try tool("gg-fetch", ["--allow-local", "--keep-going", "--max-line-bytes", "1024", "--work-dir", work.path, "--allow-root", TestEnv.fixtures.path, inputFile.path])
        let records = try result.records()
        XCTAssertEqual(records.count, 5)
        XCTAssertNil(records[0]["error"])
        XCTAssertEqual(records[1].errorKind, "not_a_url", "URL lists hold URLs, not records")
        XCTAssertEqual(records[2].errorKind, "malformed_record")
        XCTAssertTrue(records[2].dict("error")?.string("message")?.contains("UTF-8") == true)
        XCTAssertEqual(records[3].errorKind, "malformed_record")
        XCTAssertTrue(records[3].dict("error")?.string("message")?.contains("longer than 1024") == true)
        XCTAssertNil(records[4]["error"])
        XCTAssertEqual(result.status, 65)
        XCTAssertTrue(result.stderr.contains("\(inputFile.path):2: error: not_a_url"), result.stderr)
    }

    func testRecordsWithErrorsPassThroughUntouched() throws {
        let line = #"{"error":{"kind":"http_error","message":"x","retryable":false,"stage":"fetch"},"id":"abc","url":"http://e/x",  "extra": 1}"#
        for name in ["gg-scenes", "gg-ocr", "gg-transcribe"] {
            let result = try tool(name, [], stdin: line + "\n")
            XCTAssertEqual(result.stdout, line + "\n", name)
            XCTAssertEqual(result.status, 0, name)
        }
    }

    func testHelpVersionAndUsageErrors() throws {
        for name in ["gg-fetch", "gg-scenes", "gg-ocr", "gg-transcribe", "gg-assemble"] {
            let help = try tool(name, ["--help"])
            XCTAssertEqual(help.status, 0)
            XCTAssertTrue(help.stdout.hasPrefix("usage: \(name) [options] [FILE...]"), help.stdout)
            XCTAssertTrue(help.stdout.contains("--jobs N"))
            XCTAssertEqual(help.stdout.split(separator: "\n").filter { $0.count > 100 }, [], "\(name) --help within 100 columns")
            let version = try tool(name, ["--version"])
            XCTAssertEqual(version.status, 0)
            XCTAssertTrue(version.stdout.hasPrefix("\(name) "))
            let bad = try tool(name, ["--no-such-option"])
            XCTAssertEqual(bad.status, 64)
            XCTAssertTrue(bad.stderr.contains("\(name): error: unknown option '--no-such-option'"), bad.stderr)
        }
        XCTAssertEqual(try tool("gg-serve", ["--help"]).stdout.split(separator: "\n").filter { $0.count > 100 }, [])
        XCTAssertTrue(try tool("gg-scenes", ["--version"]).stdout.contains("libavformat"))
        XCTAssertTrue(try tool("gg-ocr", ["--version"]).stdout.contains("tesseract 5"))
        XCTAssertTrue(try tool("gg-fetch", ["--version"]).stdout.contains("libcurl"))
        XCTAssertEqual(try tool("gg-scenes", ["--jobs", "0"]).status, 64)
        XCTAssertEqual(try tool("gg-scenes", ["--threshold"]).status, 64)
    }

    func testMissingInputFileExits66AfterOtherInputs() throws {
        let work = TestEnv.temporaryDirectory()
        let good = work.appendingPathComponent("urls.txt")
        try (TestEnv.fixture("sign.png") + "\n").write(to: good, atomically: true, encoding: .utf8)
        let result = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path, "--allow-root", TestEnv.fixtures.path, "/no/such/file", good.path])
        XCTAssertEqual(result.status, 66)
        XCTAssertEqual(try result.records().count, 1)
        XCTAssertTrue(result.stderr.contains("cannot open /no/such/file"))
    }

    func testOCRReexecutesWithOneOpenMPThread() throws {
        let result = try runProcess("/usr/bin/env", ["-u", "OMP_THREAD_LIMIT", TestEnv.tool("gg-ocr"), "--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("OMP_THREAD_LIMIT=1"), result.stdout)
        let chosen = try runProcess("/usr/bin/env", ["OMP_THREAD_LIMIT=2", TestEnv.tool("gg-ocr"), "--version"])
        XCTAssertTrue(chosen.stdout.contains("OMP_THREAD_LIMIT=2"), "a limit the user set is kept")
    }
}
