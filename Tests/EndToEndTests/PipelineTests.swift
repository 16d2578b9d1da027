import Foundation
import XCTest

/// The whole pipeline, its schemas, gg-assemble, the Makefile and the GNU parallel recipe.
final class PipelineTests: ServerTestCase {

    var runScript: String { TestEnv.repo.appendingPathComponent("pipelines/run.sh").path }

    func writeURLs(_ urls: [String]) throws -> String {
        let file = dir.appendingPathComponent("urls.txt")
        try (urls.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func testMixedBatchGivesOneResultPerURLInOrderAndCleansUp() throws {
        let urls = [server.url("/file/cuts.mp4"), server.url("/file/poster.jpg"), server.url("/carousel/noaudio.mp4/sign.png"),
                    server.url("/file/noaudio.mp4"), server.url("/file/text.mp4"), server.url("/status/404"), "ftp://127.0.0.1/nope",
                    TestEnv.fixture("talk.mp4")]
        let work = dir.appendingPathComponent("work")
        let result = try runProcess("/bin/bash", [runScript, "--bin", TestEnv.products.path, "--work-dir", work.path, "--cache-dir", dir.appendingPathComponent("cache").path,
                                                   "--cleanup", "--jobs", "2", try writeURLs(urls)])
        XCTAssertEqual(result.status, 65, "failed URLs make the run fail at the end")
        let results = try result.records()
        XCTAssertEqual(results.map { $0.string("url") }, urls)
        XCTAssertEqual(results.map { $0.string("status") }, ["success", "success", "success", "success", "error", "error", "error", "success"])
        XCTAssertEqual(results[4].errorKind, "not_media")
        XCTAssertEqual(results[5].errorKind, "http_error")
        XCTAssertEqual(results[6].errorKind, "unsupported_url")
        let video = results[0].array("videos")[0]
        XCTAssertEqual(video.array("scenes").count, 3)
        XCTAssertNil(video.array("scenes")[0]["keyframe"], "paths are left out after cleanup")
        XCTAssertEqual(results[1].array("images")[0].string("text").map { wordRecall(expected: "SUMMER SALE FIFTY PERCENT", in: $0) >= 0.75 }, true)
        XCTAssertEqual(results[2].array("videos").count, 1)
        XCTAssertEqual(results[2].array("images").count, 1)
        XCTAssertEqual(results[3].array("videos")[0].dict("transcript")?.string("text"), "")
        XCTAssertFalse((results[7].array("videos")[0].dict("transcript")?.string("text") ?? "").isEmpty)
        XCTAssertTrue(FileManager.default.fileExists(atPath: TestEnv.fixture("talk.mp4")), "local inputs are never deleted")
        let left = FileManager.default.enumerator(atPath: work.path)?.allObjects as? [String] ?? []
        XCTAssertEqual(left, [], "nothing is left in the work root after --cleanup")
        let schema = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/validate.py").path,
                                                     TestEnv.repo.appendingPathComponent("docs/schemas/result.schema.json").path], stdin: result.stdout)
        XCTAssertEqual(schema.status, 0, schema.stdout + schema.stderr)
    }

    /// The same URL twice in one batch: each copy gets its own id and work folder, so cleaning up
    /// the first does not take the files the second still needs.
    func testDuplicateURLsHaveTheirOwnFilesUnderCleanup() throws {
        let url = server.url("/file/cuts.mp4")
        let work = dir.appendingPathComponent("work")
        let result = try runProcess("/bin/bash", [runScript, "--bin", TestEnv.products.path, "--work-dir", work.path, "--cache-dir", dir.appendingPathComponent("cache").path,
                                                   "--cleanup", "--base64", "--jobs", "2", try writeURLs([url, url, url])])
        XCTAssertEqual(result.status, 0, result.stderr)
        let results = try result.records()
        XCTAssertEqual(results.count, 3)
        let ids = results.compactMap { $0.string("id") }
        XCTAssertEqual(Set(ids).count, 3, "\(ids)")
        XCTAssertEqual(ids[1], ids[0] + "-L2")
        XCTAssertEqual(ids[2], ids[0] + "-L3")
        for record in results {
            XCTAssertEqual(record.string("status"), "success")
            let scenes = record.array("videos")[0].array("scenes")
            XCTAssertEqual(scenes.count, 3)
            XCTAssertTrue(scenes.allSatisfy { ($0.string("keyframe_base64") ?? "").count > 100 }, "\(record)")
        }
        XCTAssertEqual(FileManager.default.enumerator(atPath: work.path)?.allObjects.count ?? 0, 0)
    }

    func testEveryStageOutputMatchesItsSchema() throws {
        let urls = [server.url("/file/captions.mp4"), server.url("/carousel/talk.mp4/poster.jpg"), server.url("/status/500"), TestEnv.fixture("speech1.wav")]
        let work = dir.appendingPathComponent("work").path
        var input = urls.joined(separator: "\n")
        let common = ["--work-dir", work]
        for (stage, extra) in [("fetch", ["--allow-local", "--retries", "0", "--no-cache"]), ("scenes", ["--clips"]), ("ocr", []), ("transcribe", [])] {
            let output = try tool("gg-\(stage)", common + extra, stdin: input)
            let check = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/validate.py").path,
                                                        TestEnv.repo.appendingPathComponent("docs/schemas/\(stage).schema.json").path], stdin: output.stdout)
            XCTAssertEqual(check.status, 0, "\(stage): \(check.stdout)\(check.stderr)")
            XCTAssertEqual(output.lines.count, urls.count)
            input = output.stdout
        }
        let array = try tool("gg-assemble", common + ["--array", "--base64"], stdin: input)
        let check = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/validate.py").path,
                                                    TestEnv.repo.appendingPathComponent("docs/schemas/result.schema.json").path, "--array"], stdin: array.stdout)
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(array.stdout.utf8)) as? [String: Any])
        let results = try XCTUnwrap(document["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, urls.count)
        let scene = try XCTUnwrap(results[0].array("videos").first?.array("scenes").first)
        let keyframe = try Data(contentsOf: URL(fileURLWithPath: try XCTUnwrap(scene.string("keyframe"))))
        XCTAssertEqual(Data(base64Encoded: try XCTUnwrap(scene.string("keyframe_base64"))), keyframe)
        XCTAssertNotNil(scene.string("clip_base64"))
        XCTAssertNotNil(results[1].array("images").first?.string("base64"))
    }

    func testCleanupRefusesPathsOutsideTheWorkRoot() throws {
        let work = dir.appendingPathComponent("work")
        let inside = work.appendingPathComponent("abc/0-scene-000.jpg")
        let outside = dir.appendingPathComponent("precious.jpg")
        let sneaky = work.path + "/../precious2.jpg"
        try FileManager.default.createDirectory(at: inside.deletingLastPathComponent(), withIntermediateDirectories: true)
        for path in [inside.path, outside.path, dir.appendingPathComponent("precious2.jpg").path] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        }
        let record = #"{"id":"abc","url":"http://x/a.mp4","kind":"direct","items":[{"index":0,"type":"video","path":"\#(outside.path)","scenes":[{"index":0,"start":0,"end":1,"keyframe":"\#(inside.path)"},{"index":1,"start":1,"end":2,"keyframe":"\#(sneaky)"}]}]}"#
        let result = try tool("gg-assemble", ["--work-dir", work.path, "--cleanup"], stdin: record)
        XCTAssertFalse(FileManager.default.fileExists(atPath: inside.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: outside.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("precious2.jpg").path))
        XCTAssertEqual(result.status, 65)
        let warnings = (try result.records()[0]["warnings"] as? [String]) ?? []
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertTrue(result.stderr.contains("cleanup_refused"))
    }

    func testParallelRecipeMatchesSerialRun() throws {
        try XCTSkipIf(!FileManager.default.isExecutableFile(atPath: "/usr/bin/parallel"), "GNU parallel is not installed")
        let work = dir.appendingPathComponent("work").path
        let urls = ["cuts.mp4", "flash.mp4", "poster.jpg", "fade.mp4", "text.mp4", "noaudio.mp4"].map(TestEnv.fixture).joined(separator: "\n")
        let fetched = try tool("gg-fetch", ["--allow-local", "--work-dir", work], stdin: urls)
        let serial = try tool("gg-scenes", ["--work-dir", work], stdin: fetched.stdout)
        let parallel = try runProcess("/bin/bash", [TestEnv.repo.appendingPathComponent("pipelines/parallel-stage.sh").path, "gg-scenes", "--work-dir", work],
                                      stdin: fetched.stdout, environment: ["GG_BIN": TestEnv.products.path, "GG_PARALLEL_JOBS": "2", "GG_RETRIES": "1"])
        XCTAssertEqual(serial.lines.count, 6)
        XCTAssertEqual(parallel.stdout, serial.stdout)
    }

    func testMakefileRerunsOnlyChangedStages() throws {
        try XCTSkipIf(!FileManager.default.isExecutableFile(atPath: "/usr/bin/make"), "make is not installed")
        let urls = try writeURLs([TestEnv.fixture("cuts.mp4"), TestEnv.fixture("sign.png")])
        let work = dir.appendingPathComponent("mk").path
        let base = ["-s", "-f", TestEnv.repo.appendingPathComponent("pipelines/Makefile").path, "URLS=\(urls)", "WORK=\(work)", "BIN=\(TestEnv.products.path)"]
        /// The stages that ran, without gg-transcribe's note on the engine it uses.
        func stages(_ output: ProcessOutput) -> String {
            output.stderr.split(separator: "\n").filter { !$0.contains(": note: ") }.map { $0 + "\n" }.joined()
        }
        let first = try runProcess("/usr/bin/make", base)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(stages(first), "gg-fetch\ngg-scenes\ngg-ocr\ngg-transcribe\ngg-assemble\n")
        XCTAssertEqual(try runProcess("/usr/bin/make", base).stderr, "", "nothing changed, nothing reruns")
        let changed = try runProcess("/usr/bin/make", base + ["OCR_OPTS=--min-confidence 70"])
        XCTAssertEqual(stages(changed), "gg-ocr\ngg-assemble\n", "an OCR option reruns OCR and assemble, not transcription")
        let results = try String(contentsOfFile: work + "/assemble.ndjson", encoding: .utf8)
        XCTAssertEqual(results.split(separator: "\n").count, 2)
    }
}
