import Foundation
import XCTest

/// Golden tests: Tests/Golden/<tool>/<case>/ holds `args` (one per line), `input.ndjson`, and the
/// expected `expected.ndjson`, `expected.stderr` and `expected.status`. `$FIXTURES`, `$WORK` and `$REPO`
/// stand for the fixture folder, a fresh work root and the checkout (for its `.whisper/` model); tools run in the fixture folder, so inputs
/// can name fixtures as `./NAME` and keep ids independent of where the checkout lives. The fixtures named as `$FIXTURES/NAME` are copied
/// into the work root first (stages read nothing outside it). Run with GG_RECORD=1 to rewrite the expectations.
final class GoldenTests: XCTestCase {
    static let root = TestEnv.repo.appendingPathComponent("Tests/Golden")

    func testGoldenCases() throws {
        try TestEnv.ensureFixtures()
        let record = ProcessInfo.processInfo.environment["GG_RECORD"] != nil
        let fm = FileManager.default
        var ran = 0
        for tool in try fm.contentsOfDirectory(atPath: Self.root.path).sorted() {
            for name in try fm.contentsOfDirectory(atPath: Self.root.appendingPathComponent(tool).path).sorted() {
                let dir = Self.root.appendingPathComponent(tool).appendingPathComponent(name)
                try check(tool: "gg-" + tool, case: dir, record: record)
                ran += 1
            }
        }
        XCTAssertGreaterThanOrEqual(ran, 6)
    }

    private func check(tool name: String, case dir: URL, record: Bool) throws {
        let work = TestEnv.temporaryDirectory().appendingPathComponent("work")
        let inputs = work.appendingPathComponent("fixtures")
        func expand(_ text: String) -> String {
            text.replacingOccurrences(of: "$FIXTURES", with: inputs.path).replacingOccurrences(of: "$WORK", with: work.path)
                .replacingOccurrences(of: "$REPO", with: TestEnv.repo.path)
        }
        func collapse(_ text: String) -> String {
            text.replacingOccurrences(of: inputs.path, with: "$FIXTURES").replacingOccurrences(of: work.path, with: "$WORK")
                .replacingOccurrences(of: TestEnv.fixtures.path, with: "$FIXTURES")
        }
        let rawArgs = try String(contentsOf: dir.appendingPathComponent("args"), encoding: .utf8)
        let rawInput = try String(contentsOf: dir.appendingPathComponent("input.ndjson"), encoding: .utf8)
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        let named = try NSRegularExpression(pattern: #"\$FIXTURES/([A-Za-z0-9._-]+)"#)
        let text = rawArgs + rawInput
        for match in named.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(match.range(at: 1), in: text)!])
            let copy = inputs.appendingPathComponent(name)
            if !FileManager.default.fileExists(atPath: copy.path) { try FileManager.default.copyItem(at: TestEnv.fixtures.appendingPathComponent(name), to: copy) }
        }
        let args = rawArgs.split(separator: "\n").map { expand(String($0)) }
        let input = expand(rawInput)
        let result = try tool(name, ["--work-dir", work.path, "--jobs", "2"] + args, stdin: input, directory: TestEnv.fixtures)
        let actual = (collapse(result.stdout), collapse(result.stderr), "\(result.status)\n")
        let files = ["expected.ndjson", "expected.stderr", "expected.status"].map { dir.appendingPathComponent($0) }
        if record {
            try actual.0.write(to: files[0], atomically: true, encoding: .utf8)
            try actual.1.write(to: files[1], atomically: true, encoding: .utf8)
            try actual.2.write(to: files[2], atomically: true, encoding: .utf8)
            return
        }
        let label = "\(name) \(dir.lastPathComponent)"
        XCTAssertEqual(actual.0, try String(contentsOf: files[0], encoding: .utf8), "\(label): stdout")
        XCTAssertEqual(actual.1, try String(contentsOf: files[1], encoding: .utf8), "\(label): stderr")
        XCTAssertEqual(actual.2, try String(contentsOf: files[2], encoding: .utf8), "\(label): status")
    }
}
