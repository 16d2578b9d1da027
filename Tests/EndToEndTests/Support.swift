import Foundation
import XCTest

/// Paths and helpers shared by the end-to-end tests, which run the built executables.
enum TestEnv {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent(".fixtures")
    static let products = Bundle.main.bundleURL

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// The folders tests let stages read records' files from (`--allow-root`): the fixtures and
    /// pocketsphinx-testdata's recordings.
    static let readableRoots = fixtures.path + ":/usr/share/pocketsphinx/test/data"

    static func tool(_ name: String) -> String { products.appendingPathComponent(name).path }

    /// The yt-dlp scripts/setup-resolvers installs, which gg-fetch runs.
    static var ytDlp: String { repo.appendingPathComponent(".tools/venv/bin/yt-dlp").path }

    static func ensureFixtures() throws {
        if !FileManager.default.fileExists(atPath: fixtures.appendingPathComponent(".stamp").path) {
            let result = try runProcess("/bin/bash", [repo.appendingPathComponent("scripts/make-fixtures").path])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
    }

    static func temporaryDirectory() -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("gg-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// What a finished process printed and returned.
struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String

    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    func records() throws -> [[String: Any]] {
        try lines.map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw NSError(domain: "test", code: 1, userInfo: [NSLocalizedDescriptionKey: "not an object: \(line)"])
            }
            return object
        }
    }
}

@discardableResult
func runProcess(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String] = [:], directory: URL? = nil) throws -> ProcessOutput {
    let process = Process()
    if let directory { process.currentDirectoryURL = directory }
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let input = Pipe(), output = Pipe(), error = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let writer = Thread {
        try? input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let errBox = DataBox()
    let done = DispatchSemaphore(value: 0)
    Thread {
        errBox.data = error.fileHandleForReading.readDataToEndOfFile()
        done.signal()
    }.start()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    return ProcessOutput(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
}

func tool(_ name: String, _ arguments: [String], stdin: String = "", environment: [String: String] = [:], directory: URL? = nil) throws -> ProcessOutput {
    try runProcess(TestEnv.tool(name), arguments, stdin: stdin, environment: environment, directory: directory)
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// The loopback test server (Tests/Support/server.py), stopped when released.
/// A test case with the loopback test server and a temporary folder of its own, both gone after each test.
class ServerTestCase: XCTestCase {
    var server: TestServer!
    var dir: URL!

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        server = try TestServer()
        dir = TestEnv.temporaryDirectory()
    }

    override func tearDown() {
        server = nil
        try? FileManager.default.removeItem(at: dir)
    }
}

final class TestServer {
    let process = Process()
    let port: Int

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/server.py").path, "--root", TestEnv.fixtures.path, "--lifetime", "900"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw NSError(domain: "test", code: 2) }
        self.port = port
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func requestCounts() throws -> [String: Int] {
        let output = try runProcess("/usr/bin/curl", ["-s", url("/stats")])
        return (try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Int]) ?? [:]
    }
}

extension Dictionary where Key == String, Value == Any {
    func dict(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func array(_ key: String) -> [[String: Any]] { (self[key] as? [[String: Any]]) ?? [] }
    func string(_ key: String) -> String? { self[key] as? String }
    func double(_ key: String) -> Double? { (self[key] as? NSNumber)?.doubleValue }
    var errorKind: String? { dict("error")?.string("kind") }
}

/// Word error rate between a reference and a hypothesis (word-level Levenshtein / reference length).
func wordErrorRate(reference: String, hypothesis: String) -> Double {
    let r = reference.lowercased().split(separator: " ").map(String.init)
    let h = hypothesis.lowercased().split(separator: " ").map(String.init)
    guard !r.isEmpty else { return h.isEmpty ? 0 : 1 }
    var previous = Array(0...h.count)
    for i in 1...r.count {
        var current = [i] + Array(repeating: 0, count: h.count)
        for j in stride(from: 1, through: h.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return Double(previous[h.count]) / Double(r.count)
}

/// Fraction of the expected words found in the text (case-insensitive).
func wordRecall(expected: String, in text: String) -> Double {
    let found = Set(text.uppercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
    let words = expected.uppercased().split(separator: " ").map(String.init)
    return Double(words.filter(found.contains).count) / Double(max(words.count, 1))
}

/// Words for scoring transcripts: lower case, punctuation and hyphens dropped, common abbreviations and
/// numbers up to twenty spelled out (as in the references).
func normalizedWords(_ text: String) -> String {
    let spelled = ["mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"]
    let numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                   "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
    return text.lowercased()
        .split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "'") })
        .map { word -> String in
            let bare = word.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            if let full = spelled[bare] { return full }
            if let n = Int(bare), n >= 0, n < numbers.count { return numbers[n] }
            return bare
        }
        .filter { !$0.isEmpty }
        .joined(separator: " ")
}
