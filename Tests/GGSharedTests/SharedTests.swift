import Foundation
import Synchronization
import XCTest
@testable import GGShared

final class SharedTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        XCTAssertEqual(Record.id(for: "https://example.com/a"), String(SHA256.hex(Array("https://example.com/a".utf8)).prefix(16)))
    }

    func testDurations() {
        XCTAssertEqual(ParsedOptions.parseDuration("90"), 90)
        XCTAssertEqual(ParsedOptions.parseDuration("15m"), 900)
        XCTAssertEqual(ParsedOptions.parseDuration("12h"), 43200)
        XCTAssertEqual(ParsedOptions.parseDuration("7d"), 604800)
        XCTAssertEqual(ParsedOptions.parseDuration("0.5s"), 0.5)
        XCTAssertNil(ParsedOptions.parseDuration("-1s"))
        XCTAssertNil(ParsedOptions.parseDuration("soon"))
    }

    func testRecordRoundTripUsesSnakeCase() throws {
        var item = Item(index: 0, type: .video, path: "/w/a.mp4")
        item.hasAudio = true
        item.sourceUrl = "http://x/a.mp4"
        var scene = Scene(index: 1, start: 0, end: 1.5, keyframe: "/w/k.jpg")
        scene.duplicateOf = 0
        item.scenes = [scene]
        let record = Record(id: "abc", url: "http://x", kind: "direct", items: [item])
        let line = RecordJSON.encodeLine(record)
        XCTAssertTrue(line.contains("\"has_audio\":true"))
        XCTAssertTrue(line.contains("\"source_url\":\"http://x/a.mp4\""))
        XCTAssertTrue(line.contains("\"duplicate_of\":0"))
        XCTAssertEqual(try RecordJSON.decodeRecord(line), record)
    }

    func testLineReaderSplitsAndFlagsLongLines() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let text = "one\r\ntwo\n\n" + String(repeating: "x", count: 3000) + "\nlast"
        _ = text.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        let reader = LineReader(file: FileDescriptor(fds[0]), source: "<test>", maxLineBytes: 1024)
        var lines = [InputLine]()
        while let line = try reader.next() { lines.append(line) }
        XCTAssertEqual(lines.map(\.text), ["one", "two", "", "", "last"])
        XCTAssertEqual(lines.map(\.tooLong), [false, false, false, true, false])
        XCTAssertEqual(lines.map(\.number), [1, 2, 3, 4, 5])
    }

    func testFailuresAreCollectedForTheStageOnly() {
        var item = Item(index: 0, type: .video, path: "p")
        item.error = StageFailure(stage: "scenes", kind: "not_media", message: "x")
        var scene = Scene(index: 0, start: 0, end: 1, keyframe: "k")
        scene.error = StageFailure(stage: "ocr", kind: "unreadable_image", message: "y")
        var other = Item(index: 1, type: .video, path: "q")
        other.scenes = [scene]
        let record = Record(items: [item, other], error: nil)
        XCTAssertEqual(StageRunner.failures(in: record, stage: "ocr").map(\.kind), ["unreadable_image"])
        XCTAssertEqual(StageRunner.failures(in: record, stage: "scenes").map(\.kind), ["not_media"])
        XCTAssertEqual(StageRunner.failures(in: record, stage: "fetch"), [])
    }

    func testExitStatusKeepsFirstHardFailure() {
        let status = ExitStatus()
        XCTAssertEqual(status.code, .ok)
        status.record(StageFailure(stage: "fetch", kind: "timeout", message: "", retryable: true))
        XCTAssertEqual(status.code, .tempFailure)
        status.record(StageFailure(stage: "fetch", kind: "resolver_unavailable", message: ""))
        status.record(StageFailure(stage: "fetch", kind: "not_media", message: ""))
        XCTAssertEqual(status.code, .unavailable)
    }

    func testCacheEntriesExpireAndPrune() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("gg-cache-\(UUID().uuidString)")
        let cache = MediaCache(root: root, ttl: 100)
        try cache.storeData("http://a", data: Data("hello".utf8))
        let now = Date().timeIntervalSince1970
        XCTAssertEqual(cache.lookupData("http://a"), Data("hello".utf8))
        XCTAssertNil(cache.lookup("http://a", now: now + 101), "expired after the ttl")
        XCTAssertNil(cache.lookup("http://b"))
        XCTAssertEqual(cache.stats().entries, 1)
        XCTAssertEqual(cache.stats().bytes, 5)
        XCTAssertEqual(cache.prune(olderThan: 50, now: now).removed, 0)
        XCTAssertEqual(cache.prune(olderThan: 50, now: now + 60).removed, 1)
        XCTAssertEqual(cache.stats().entries, 0)
    }

    func testCacheIgnoresIncompleteEntries() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("gg-cache-\(UUID().uuidString)")
        let cache = MediaCache(root: root, ttl: 100)
        try cache.storeData("http://a", data: Data("hello".utf8))
        let data = cache.dataURL(MediaCache.key("http://a"))
        try Data("hel".utf8).write(to: data)
        XCTAssertNil(cache.lookup("http://a"), "a data file whose size differs from its metadata is not served")
    }

    /// Eight threads (more than this machine's cores, so the pool, not the scheduler, is what limits
    /// them) ask a pool of 2 at once: exactly 2 resources are made, and 2 are lent at the peak, never 3.
    func testResourcePoolLendsAtMostSizeAtOnce() throws {
        struct Counts { var current = 0, peak = 0, created = 0 }
        let counts = Mutex(Counts())
        let pool = ResourcePool<Int>(size: 2) {
            counts.withLock { $0.created += 1; return $0.created }
        }
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            Thread.detachNewThread {
                _ = try? pool.with { _ in
                    counts.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) }
                    usleep(20_000)
                    counts.withLock { $0.current -= 1 }
                }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        let final = counts.withLock { $0 }
        XCTAssertEqual(final.created, 2)
        XCTAssertEqual(final.peak, 2)
        XCTAssertEqual(final.current, 0)
    }

    func testSecretsAreRedactedFromURLsInText() {
        XCTAssertEqual(Secrets.redact("https://user:pass@host.example/a?b=1"), "https://***@host.example/a?b=1")
        XCTAssertEqual(Secrets.redact("fetch http://h/x?token=abc&n=2&X-Amz-Signature=zz#f failed"), "fetch http://h/x?token=***&n=2&X-Amz-Signature=***#f failed")
        XCTAssertEqual(Secrets.redact("no url here"), "no url here")
        XCTAssertEqual(Secrets.redact("http://h/p@q"), "http://h/p@q", "an @ in the path is not userinfo")
    }

    /// Cache entries dated in the future never expired; --cache-clear reported removals that failed.
    func testCacheTreatsFutureEntriesAsExpiredAndCountsOnlyRealRemovals() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("gg-cache-\(UUID().uuidString)")
        let cache = MediaCache(root: root, ttl: 100)
        try cache.storeData("http://a", data: Data("hello".utf8))
        let now = Date().timeIntervalSince1970
        XCTAssertNil(cache.lookup("http://a", now: now - 3600), "an entry made an hour from now is not fresh")
        XCTAssertEqual(cache.prune(olderThan: 1000, now: now - 3600).removed, 1)
        try cache.storeData("http://b", data: Data("b".utf8))
        let data = cache.dataURL(MediaCache.key("http://b"))
        try FileManager.default.removeItem(at: data)
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: false)
        let removal = cache.clear()
        XCTAssertEqual(removal.removed, 0)
        XCTAssertEqual(removal.failed.count, 1, "a removal that failed is reported, not counted")
        let mode = (try FileManager.default.attributesOfItem(atPath: root.path)[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(mode, 0o700)
    }

    /// --help printed option lines of up to 347 characters: prose is now filled to the width, examples kept.
    func testHelpIsWrappedToTheWidthWithExamplesKept() {
        let wrapped = ToolInfo.wrap("one two three four five six\nseven eight\n\nExamples:\n  tool --a --b --c --d", width: 12)
        XCTAssertEqual(wrapped, ["one two", "three four", "five six", "seven eight", "", "Examples:", "  tool --a --b --c --d"])
        XCTAssertEqual(ToolInfo.wrap("a averyveryverylongword b", width: 8), ["a", "averyveryverylongword", "b"])
        let tool = ToolInfo(name: "gg-x", summary: "Summary.", details: String(repeating: "word ", count: 60),
                            options: [OptionSpec("--long-option", value: "VALUE", default: "12", String(repeating: "help ", count: 40))])
        for width in [60, 80, 100] {
            let lines = tool.helpText(width: width).split(separator: "\n")
            XCTAssertTrue(lines.allSatisfy { $0.count <= width }, "\(width): \(lines.filter { $0.count > width })")
            XCTAssertTrue(lines.contains { $0.hasPrefix("  --long-option VALUE  help") }, "\(lines)")
        }
    }
}
