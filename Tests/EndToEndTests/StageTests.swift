import Foundation
import XCTest

/// A record with one item per path, as gg-fetch would write it.
func recordLine(_ paths: [(String, String)], id: String = "rec") -> String {
    let items = paths.enumerated().map { #"{"index":\#($0.offset),"type":"\#($0.element.1)","path":"\#($0.element.0)"}"# }
    return #"{"id":"\#(id)","url":"file://\#(paths.first?.0 ?? "")","kind":"local","items":[\#(items.joined(separator: ","))]}"#
}

final class ScenesTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        work = TestEnv.temporaryDirectory()
    }

    func scenes(_ fixture: String, _ extra: [String] = []) throws -> (scenes: [[String: Any]], item: [String: Any]) {
        let result = try tool("gg-scenes", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots] + extra, stdin: recordLine([(TestEnv.fixture(fixture), "video")]))
        let item = try XCTUnwrap(try result.records().first?.array("items").first)
        return (item.array("scenes"), item)
    }

    func cuts(_ scenes: [[String: Any]]) -> [Double] { scenes.dropFirst().compactMap { $0.double("start") } }

    func assertCuts(_ actual: [Double], _ expected: [Double], frame: Double = 0.04, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "cuts \(actual) vs \(expected)", file: file, line: line)
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: frame + 1e-6, "cuts \(actual) vs \(expected)", file: file, line: line) }
    }

    func testHardCutsWithinOneFrame() throws {
        let (scenes, _) = try scenes("cuts.mp4")
        assertCuts(cuts(scenes), [2.0, 3.6])
        XCTAssertEqual(scenes.first?.double("start"), 0)
        XCTAssertEqual(scenes.last?.double("end") ?? 0, 5.0, accuracy: 0.05, "the last scene ends at the stream's end")
        for (i, scene) in scenes.enumerated() {
            XCTAssertEqual(scene["index"] as? Int, i)
            let keyframe = try XCTUnwrap(scene.string("keyframe"))
            XCTAssertTrue(keyframe.hasPrefix(work.path))
            let probe = try runProcess("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", keyframe])
            XCTAssertEqual(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "mjpeg,640")
        }
        for (a, b) in zip(scenes, scenes.dropFirst()) { XCTAssertEqual(a.double("end"), b.double("start")) }
    }

    /// The default skips deblocking only on frames nothing refers to and takes keyframes from I and P
    /// frames, so its scenes and keyframe files equal a full decode's; `none` keeps the cuts.
    func testDeblockModesKeepCutsAndReferencedKeepsExactKeyframes() throws {
        for fixture in ["cuts.mp4", "seg-cut.mp4", "captions.mp4"] {
            var runs = [String: [[String: Any]]]()
            var images = [String: [Data]]()
            for mode in ["all", "referenced", "none"] {
                let scenes = try scenes(fixture, ["--deblock", mode, "--work-dir", TestEnv.temporaryDirectory().path]).scenes
                runs[mode] = scenes
                images[mode] = try scenes.map { try Data(contentsOf: URL(fileURLWithPath: XCTUnwrap($0.string("keyframe")))) }
            }
            let starts = { (mode: String) in runs[mode]!.compactMap { $0.double("start") } }
            XCTAssertGreaterThan(starts("all").count, 1, fixture)
            XCTAssertEqual(starts("referenced"), starts("all"), fixture)
            XCTAssertEqual(starts("none"), starts("all"), fixture)
            XCTAssertEqual(images["referenced"], images["all"], "\(fixture): keyframes identical to a fully deblocked decode")
        }
        let probe = try runProcess("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v", "-show_entries", "frame=pict_type", "-of", "csv=p=0",
                                                        TestEnv.fixture("seg-cut.mp4")])
        XCTAssertTrue(probe.stdout.contains("B"), "the fixture has B frames, so the modes differ in what they decode")
    }

    func testContentModeAlsoFindsHardCuts() throws {
        assertCuts(cuts(try scenes("cuts.mp4", ["--detector", "content"]).scenes), [2.0, 3.6])
        assertCuts(cuts(try scenes("captions.mp4", ["--detector", "content"]).scenes), [2.0, 4.0])
    }

    func testFadeThroughBlackCutsInTheDarkStretch() throws {
        assertCuts(cuts(try scenes("fade.mp4").scenes), [2.52])
    }

    func testSingleFrameFlashIsNotACut() throws {
        assertCuts(cuts(try scenes("flash.mp4").scenes), [3.0])
        assertCuts(cuts(try scenes("flash.mp4", ["--detector", "content"]).scenes), [3.0])
    }

    func testPanAndZoomAreNotCuts() throws {
        assertCuts(cuts(try scenes("motion.mp4").scenes), [])
    }

    func testMinSceneLengthAndThreshold() throws {
        assertCuts(cuts(try scenes("cuts.mp4", ["--min-scene-len", "1.7"]).scenes), [2.0])
        assertCuts(cuts(try scenes("cuts.mp4", ["--detector", "content", "--threshold", "0.98"]).scenes), [])
        assertCuts(cuts(try scenes("cuts.mp4", ["--threshold", "0.98"]).scenes), [])
    }

    /// `--threshold` was ignored by the default detector and read on a 0-255 scale: the old service's 0.22
    /// copied over gave 8 false cuts on a clip with none.
    func testThresholdIsOnTheScaleOfTheOldServiceWithEitherDetector() throws {
        for detector in ["adaptive", "content"] {
            assertCuts(cuts(try scenes("motion.mp4", ["--detector", detector, "--threshold", "0.22"]).scenes), [])
            assertCuts(cuts(try scenes("cuts.mp4", ["--detector", detector, "--threshold", "0.22"]).scenes), [2.0, 3.6])
        }
        XCTAssertEqual(try tool("gg-scenes", ["--threshold", "27"]).status, 64, "the 0-255 scale is refused, not misread")
    }

    func testTruncatedVideoKeepsDecodablePartWithWarning() throws {
        let (scenes, item) = try scenes("cut-short.mp4")
        XCTAssertFalse(scenes.isEmpty)
        XCTAssertNil(item["error"])
        let warnings = (item["warnings"] as? [String]) ?? []
        XCTAssertTrue(warnings.contains { $0.contains("truncated") }, "\(warnings)")
        let end = try XCTUnwrap(scenes.last?.double("end"))
        XCTAssertLessThan(end, 5.0)
        XCTAssertGreaterThan(end, 0.5)
    }

    func testBadMediaIsAnItemErrorAndTheRunGoesOn() throws {
        let input = [recordLine([(TestEnv.fixture("empty.mp4"), "video"), (TestEnv.fixture("noaudio.mp4"), "video")], id: "a"),
                     recordLine([(TestEnv.fixture("text.mp4"), "video")], id: "b"),
                     recordLine([(TestEnv.fixture("truncated.mp4"), "video")], id: "c"),
                     recordLine([(TestEnv.fixture("sign.png"), "image")], id: "d"),
                     recordLine([("/no/such/file.mp4", "video")], id: "e")].joined(separator: "\n")
        let result = try tool("gg-scenes", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input)
        let records = try result.records()
        XCTAssertEqual(records.count, 5)
        XCTAssertEqual(records[0].array("items")[0].errorKind, "not_media")
        XCTAssertEqual(records[0].array("items")[1].array("scenes").count, 1)
        XCTAssertEqual(records[1].array("items")[0].errorKind, "not_media")
        XCTAssertEqual(records[2].array("items")[0].errorKind, "not_media")
        XCTAssertNil(records[3].array("items")[0]["scenes"], "images pass through untouched")
        XCTAssertNotNil(records[4].array("items")[0]["error"])
        XCTAssertEqual(result.status, 65)
        XCTAssertTrue(result.stderr.contains("<stdin>:2: error: not_media"), result.stderr)
    }

    /// Each clip lasts its scene and shows it: its first and last frames look like the source's frames at
    /// the scene's start and end, not like the neighbouring scenes'.
    func testClipsCoverEachScene() throws {
        let source = TestEnv.fixture("cuts.mp4")
        let (scenes, _) = try scenes("cuts.mp4", ["--clips"])
        XCTAssertEqual(scenes.count, 3)
        for scene in scenes {
            let clip = try XCTUnwrap(scene.string("clip"))
            let probe = try runProcess("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", clip])
            let duration = Double(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let start = scene.double("start") ?? 0, end = scene.double("end") ?? 0
            XCTAssertEqual(duration, end - start, accuracy: 0.15, clip)
            let first = try thumbnail(clip, at: 0), last = try thumbnail(clip, at: max(0, duration - 0.12))
            XCTAssertLessThan(difference(first, try thumbnail(source, at: start + 0.04)), 12, "\(clip) starts with its scene")
            XCTAssertLessThan(difference(last, try thumbnail(source, at: end - 0.12)), 12, "\(clip) ends with its scene")
            if start > 0 { XCTAssertGreaterThan(difference(first, try thumbnail(source, at: start - 0.12)), 20, "\(clip) is not the scene before") }
        }
    }

    /// One frame at `seconds` as 32x18 grey bytes.
    private func thumbnail(_ path: String, at seconds: Double) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = ["-nostdin", "-v", "error", "-ss", String(format: "%.3f", seconds), "-i", path, "-frames:v", "1",
                             "-vf", "scale=32:18,format=gray", "-f", "rawvideo", "-"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(data.count, 32 * 18, path)
        return [UInt8](data)
    }

    private func difference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        return Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.count)
    }
}

final class OCRTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        work = TestEnv.temporaryDirectory()
    }

    func testStillsAndCaptionsOverBusyFrames() throws {
        let stills = recordLine([(TestEnv.fixture("sign.png"), "image"), (TestEnv.fixture("poster.jpg"), "image"), (TestEnv.fixture("blank.png"), "image")], id: "s")
        let video = recordLine([(TestEnv.fixture("captions.mp4"), "video")], id: "v")
        let scened = try tool("gg-scenes", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: video)
        let result = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: stills + "\n" + scened.stdout)
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try result.records()
        let images = records[0].array("items")
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "OPEN SOURCE VIDEO TOOLS", in: images[0].string("text") ?? ""), 1.0)
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "SUMMER SALE FIFTY PERCENT", in: images[1].string("text") ?? ""), 0.75)
        XCTAssertEqual(images[2].string("text"), "", "a plain background has no words")
        let words = images[0].array("words")
        XCTAssertEqual(words.count, 4)
        let box = try XCTUnwrap(words.first?.dict("box"))
        XCTAssertGreaterThan(box["w"] as? Int ?? 0, 20)
        XCTAssertLessThan(box["x"] as? Int ?? 9999, 800, "boxes are in the original image's pixels")
        let mean = words.compactMap { $0.double("confidence") }.reduce(0, +) / Double(words.count)
        XCTAssertEqual(images[0].double("confidence") ?? 0, mean, accuracy: 0.1)
        let expected = ["BREAKING NEWS TODAY", "SUBSCRIBE FOR MORE", "HELLO WORLD"]
        let scenes = records[1].array("items")[0].array("scenes")
        XCTAssertEqual(scenes.count, 3)
        let recall = zip(expected, scenes).map { wordRecall(expected: $0, in: $1.string("text") ?? "") }.reduce(0, +) / 3
        XCTAssertEqual(recall, 1, "caption word recall over busy frames: \(scenes.map { $0.string("text") ?? "" })")
    }

    /// --lang auto (the default) reads a caption English cannot in its own script; Japanese without the
    /// spaces Tesseract puts between its characters; a fixed --lang eng reads Latin junk.
    func testCaptionsAreReadInTheirScript() throws {
        let input = recordLine([(TestEnv.fixture("caption-ru.png"), "image"), (TestEnv.fixture("caption-ja.png"), "image"),
                                (TestEnv.fixture("sign.png"), "image")])
        let result = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("warning"), result.stderr)
        let items = try result.records()[0].array("items")
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "ПРИВЕТ ДРУЗЬЯ СЕГОДНЯ ГОТОВИМ БОРЩ", in: items[0].string("text") ?? ""), 0.8, "\(items[0])")
        let japanese = (items[1].string("text") ?? "").filter { !$0.isWhitespace }
        let expected = Array("今日は東京で美味しいラーメンを食べます")
        XCTAssertGreaterThanOrEqual(Double(expected.filter { japanese.contains($0) }.count) / Double(expected.count), 0.8, japanese)
        XCTAssertTrue((items[1].string("text") ?? "").contains("ラーメンを食べます"), "no spaces between Japanese characters: \(items[1])")
        XCTAssertEqual(items[2].string("text"), "OPEN SOURCE VIDEO TOOLS")
        let latin = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--lang", "eng"], stdin: input)
        XCTAssertFalse((try latin.records()[0].array("items")[0].string("text") ?? "").contains("Привет"))
    }

    func testDuplicateCaptionsAcrossScenesAreMarked() throws {
        let scened = try tool("gg-scenes", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: recordLine([(TestEnv.fixture("dup.mp4"), "video")]))
        let result = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: scened.stdout)
        let scenes = try result.records()[0].array("items")[0].array("scenes")
        XCTAssertEqual(scenes.count, 3)
        XCTAssertEqual(scenes.map { $0["duplicate_of"] as? Int }, [nil, 0, nil])
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "SAME CAPTION HERE", in: scenes[0].string("text") ?? ""), 1.0)
    }

    func testPixelBombAndUnreadableImagesAreItemErrors() throws {
        let input = recordLine([(TestEnv.fixture("bomb.png"), "image"), (TestEnv.fixture("text.mp4"), "image"), (TestEnv.fixture("sign.png"), "image")])
        let result = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input)
        let items = try result.records()[0].array("items")
        XCTAssertEqual(items.map(\.errorKind), ["too_many_pixels", "unreadable_image", nil])
        XCTAssertEqual(result.status, 65)
    }

    func testMissingLanguageNamesThePackage() throws {
        let input = recordLine([(TestEnv.fixture("sign.png"), "image")])
        let result = try tool("gg-ocr", ["--lang", "yor", "--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input)
        let record = try result.records()[0]
        XCTAssertEqual(record.errorKind, "language_unavailable")
        XCTAssertTrue(record.dict("error")?.string("message")?.contains("tesseract-ocr-yor") == true)
        XCTAssertEqual(result.status, 69)
        let englishOnly = work.appendingPathComponent("tessdata")
        try FileManager.default.createDirectory(at: englishOnly, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: englishOnly.appendingPathComponent("eng.traineddata").path,
                                                   withDestinationPath: "/usr/share/tesseract-ocr/5/tessdata/eng.traineddata")
        let auto = try tool("gg-ocr", ["--tessdata", englishOnly.path, "--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stderr.contains("warning: --lang auto: no traineddata for rus+ukr, ara+fas, hin"), auto.stderr)
        XCTAssertEqual(try auto.records()[0].array("items")[0].string("text"), "OPEN SOURCE VIDEO TOOLS")
        let withoutDetection = work.appendingPathComponent("tessdata-without-osd")
        try FileManager.default.createDirectory(at: withoutDetection, withIntermediateDirectories: true)
        let installed = "/usr/share/tesseract-ocr/5/tessdata"
        for file in try FileManager.default.contentsOfDirectory(atPath: installed) where file.hasSuffix(".traineddata") && file != "osd.traineddata" {
            try FileManager.default.createSymbolicLink(atPath: withoutDetection.appendingPathComponent(file).path, withDestinationPath: "\(installed)/\(file)")
        }
        let noOSD = try tool("gg-ocr", ["--tessdata", withoutDetection.path, "--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input)
        XCTAssertEqual(noOSD.status, 0, noOSD.stderr)
        XCTAssertTrue(noOSD.stderr.contains("warning: --lang auto: no traineddata for osd;"), "script detection's model is named: \(noOSD.stderr)")
    }

    func testMinConfidenceDropsWords() throws {
        let input = recordLine([(TestEnv.fixture("sign.png"), "image")])
        let all = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--min-confidence", "0"], stdin: input)
        let none = try tool("gg-ocr", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--min-confidence", "100"], stdin: input)
        XCTAssertFalse(try all.records()[0].array("items")[0].array("words").isEmpty)
        XCTAssertTrue(try none.records()[0].array("items")[0].array("words").isEmpty)
    }
}

final class TranscribeTests: XCTestCase {
    var work: URL!
    static let testdata = "/usr/share/pocketsphinx/test/data"

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        work = TestEnv.temporaryDirectory()
    }

    func transcripts(_ paths: [(String, String)], _ arguments: [String] = ["--engine", "sphinx"]) throws -> [[String: Any]] {
        let result = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots] + arguments, stdin: recordLine(paths))
        XCTAssertEqual(result.status, 0, result.stderr)
        return try result.records()[0].array("items").map { $0.dict("transcript") ?? [:] }
    }

    /// The engine that transcribed the first item of the first output record.
    func engine(_ output: ProcessOutput) throws -> String? {
        try output.records()[0].array("items")[0].dict("transcript")?.string("engine")
    }

    /// pocketsphinx-testdata's "go forward ten meters" as a WAV file in the work folder.
    func goForward() throws -> String {
        let wav = work.appendingPathComponent("goforward.wav").path
        if !FileManager.default.fileExists(atPath: wav) {
            let raw = "\(Self.testdata)/goforward.raw"
            XCTAssertEqual(try runProcess("/usr/bin/ffmpeg", ["-loglevel", "error", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", raw, wav]).status, 0)
        }
        return wav
    }

    /// pocketsphinx-testdata's LibriVox recordings in name order, with their reference texts.
    static func librivox() throws -> [(name: String, text: String)] {
        let lines = try String(contentsOfFile: "\(testdata)/librivox/transcription", encoding: .utf8).split(separator: "\n")
        var references = [String: String]()
        for line in lines {
            let parts = line.components(separatedBy: " (")
            references[parts[1].replacingOccurrences(of: ")", with: "")] = parts[0].replacingOccurrences(of: "<s>", with: "").replacingOccurrences(of: "</s>", with: "")
                .split(separator: " ").joined(separator: " ")
        }
        return references.keys.sorted().map { ($0, references[$0] ?? "") }
    }

    func librivoxWordErrorRate(_ arguments: [String]) throws -> (wer: Double, hypothesis: String, engine: String?) {
        let recordings = try Self.librivox()
        let results = try transcripts(recordings.map { ("\(Self.testdata)/librivox/\($0.name).wav", "audio") }, arguments)
        let reference = recordings.map(\.text).joined(separator: " ")
        let hypothesis = results.compactMap { $0.string("text") }.joined(separator: " ")
        return (wordErrorRate(reference: normalizedWords(reference), hypothesis: normalizedWords(hypothesis)), hypothesis, results.first?.string("engine"))
    }

    func testSphinxWordErrorRateOnRecordedSpeech() throws {
        let result = try librivoxWordErrorRate(["--engine", "sphinx"])
        XCTAssertLessThanOrEqual(result.wer, 0.45, "sphinx WER \(result.wer): \(result.hypothesis)")
        XCTAssertEqual(result.engine, "sphinx")
    }

    func testShortCommandIsRecognisedExactly() throws {
        let wav = try goForward()
        XCTAssertEqual(try transcripts([(wav, "audio")])[0].string("text"), "go forward ten meters")
    }

    func testSegmentsHaveAbsoluteTimesAroundThePause() throws {
        let transcript = try transcripts([(TestEnv.fixture("talk.mp4"), "video")])[0]
        let segments = transcript.array("segments")
        XCTAssertGreaterThanOrEqual(segments.count, 2, "\(transcript)")
        let speech1 = try runProcess("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", TestEnv.fixture("speech1.wav")])
        let firstEnds = Double(speech1.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let secondStarts = firstEnds + 1.2
        let starts = segments.compactMap { $0.double("start") }
        let ends = segments.compactMap { $0.double("end") }
        XCTAssertLessThan(starts[0], 0.6)
        XCTAssertTrue(starts.contains { abs($0 - secondStarts) < 0.6 }, "a segment starts when the second sentence does (\(secondStarts)): \(starts)")
        XCTAssertTrue(zip(starts, ends).allSatisfy { $0 < $1 })
        XCTAssertFalse((transcript.string("text") ?? "").isEmpty)
    }

    func testSilenceAndMissingAudioGiveNoWords() throws {
        let results = try transcripts([(TestEnv.fixture("silent.mp4"), "video"), (TestEnv.fixture("noaudio.mp4"), "video")])
        for transcript in results {
            XCTAssertEqual(transcript.string("text"), "")
            XCTAssertEqual(transcript.array("segments").count, 0)
        }
    }

    static let whisperModel = TestEnv.repo.appendingPathComponent(".whisper/models/ggml-base-q8_0.bin").path
    static let englishModel = TestEnv.repo.appendingPathComponent(".whisper/models/ggml-tiny.en-q8_0.bin").path
    let whisper = ["--engine", "whisper", "--model", TranscribeTests.whisperModel]
    let englishWhisper = ["--engine", "whisper", "--model", TranscribeTests.englishModel]

    func requireWhisperModel() throws {
        guard FileManager.default.fileExists(atPath: Self.whisperModel) else {
            XCTFail("no \(Self.whisperModel): run scripts/setup (or scripts/setup-whisper)")
            throw XCTSkip("whisper is not set up")
        }
    }

    func testWhisperWordErrorRateOnRecordedSpeech() throws {
        try requireWhisperModel()
        let result = try librivoxWordErrorRate(whisper)
        XCTAssertLessThanOrEqual(result.wer, 0.08, "whisper WER \(result.wer): \(result.hypothesis)")
        XCTAssertEqual(result.engine, "whisper")
    }

    func testWhisperRecognisesAShortCommand() throws {
        try requireWhisperModel()
        let wav = try goForward()
        let transcript = try transcripts([(wav, "audio")], whisper)[0]
        XCTAssertEqual(normalizedWords(transcript.string("text") ?? ""), "go forward ten meters")
        XCTAssertEqual(transcript.string("language"), "en")
    }

    /// long.wav: eight sentences at known seconds over 52 s, so several whisper windows.
    func testWhisperSegmentsStartWhereEachSentenceDoes() throws {
        try requireWhisperModel()
        let sentences = try String(contentsOfFile: TestEnv.fixture("sentences.txt"), encoding: .utf8).split(separator: "\n").map {
            let parts = $0.split(separator: "\t")
            return (start: Double(parts[0]) ?? -1, text: String(parts[1]))
        }
        let transcript = try transcripts([(TestEnv.fixture("long.wav"), "audio")], whisper)[0]
        let segments = transcript.array("segments")
        let starts = segments.compactMap { $0.double("start") }
        let ends = segments.compactMap { $0.double("end") }
        XCTAssertEqual(starts, starts.sorted())
        XCTAssertTrue(zip(starts, ends).allSatisfy { $0 <= $1 && $1 <= 52 })
        for sentence in sentences {
            let near = segments.filter { abs(($0.double("start") ?? -9) - sentence.start) < 0.75 }
            let heard = near.map { $0.string("text") ?? "" }.joined(separator: " ")
            XCTAssertGreaterThanOrEqual(wordRecall(expected: sentence.text, in: heard), 0.5, "'\(sentence.text)' at \(sentence.start) s: \(segments)")
        }
        let wer = wordErrorRate(reference: sentences.map(\.text).joined(separator: " "), hypothesis: normalizedWords(transcript.string("text") ?? ""))
        XCTAssertLessThanOrEqual(wer, 0.2, "whisper WER \(wer) on espeak-ng speech")
    }

    /// 43 s of speech with no pause to cut at: whisper reads it in windows that begin after the last
    /// whole segment, so no word is cut at a window edge (a cut at 20 s cost 0.06 WER).
    func testWhisperReadsContinuousSpeechWithoutCuttingWords() throws {
        try requireWhisperModel()
        let reference = try String(contentsOfFile: TestEnv.fixture("paragraph.txt"), encoding: .utf8)
        let transcript = try transcripts([(TestEnv.fixture("paragraph.wav"), "audio")], whisper)[0]
        let wer = wordErrorRate(reference: normalizedWords(reference), hypothesis: normalizedWords(transcript.string("text") ?? ""))
        XCTAssertLessThanOrEqual(wer, 0.045, transcript.string("text") ?? "")
        let segments = transcript.array("segments")
        XCTAssertGreaterThan(segments.count, 6)
        XCTAssertEqual(segments.last?.double("end") ?? 0, 42.9, accuracy: 1.5)
    }

    /// librivox2.wav: whisper's first windows end in a segment that stops seconds before the audio does.
    /// The rest is read at the front of the next window instead of in a window of its own, and nothing
    /// is lost or read twice where the windows meet.
    func testWhisperReadsWhatAWindowLeftWithTheNextWindow() throws {
        try requireWhisperModel()
        let reference = Array(repeating: try Self.librivox().map(\.text).joined(separator: " "), count: 2).joined(separator: " ")
        let transcript = try transcripts([(TestEnv.fixture("librivox2.wav"), "audio")], whisper)[0]
        let text = transcript.string("text") ?? ""
        let wer = wordErrorRate(reference: normalizedWords(reference), hypothesis: normalizedWords(text))
        XCTAssertLessThanOrEqual(wer, 0.03, text)
        XCTAssertEqual(text.components(separatedBy: "amiable himself").count - 1, 2, text)
        let segments = transcript.array("segments")
        for (before, after) in zip(segments, segments.dropFirst()) {
            XCTAssertLessThanOrEqual(before.double("end") ?? 99, (after.double("start") ?? 0) + 0.01, "\(before) then \(after)")
        }
        XCTAssertEqual(segments.last?.double("end") ?? 0, 58.5, accuracy: 1.5)
    }

    /// scripts/whisper-model.py's half-float output (setup makes the 8-bit one) loads and reads the same.
    func testConverterWritesAWorkingHalfFloatModel() throws {
        try requireWhisperModel()
        let model = work.appendingPathComponent("ggml-tiny.en-f16.bin").path
        let convert = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("scripts/whisper-model.py").path, "--type", "f16",
                                                      TestEnv.repo.appendingPathComponent(".whisper/models/tiny.en").path, model])
        XCTAssertEqual(convert.status, 0, convert.stderr)
        let wav = try goForward()
        let transcript = try transcripts([(wav, "audio")], ["--engine", "whisper", "--model", model])[0]
        XCTAssertEqual(normalizedWords(transcript.string("text") ?? ""), "go forward ten meters")
        let size = try FileManager.default.attributesOfItem(atPath: model)[.size] as? Int ?? 0
        let quantized = try FileManager.default.attributesOfItem(atPath: Self.englishModel)[.size] as? Int ?? 0
        XCTAssertGreaterThan(size, quantized * 3 / 2, "f16 is larger than q8_0")
    }

    /// The default model is multilingual: each language is detected, with its probability; `--language`
    /// fixes it; the English-only tiny.en always transcribes as English and says why.
    func testWhisperDetectsTheSpokenLanguageByDefault() throws {
        try requireWhisperModel()
        let paths = [(TestEnv.fixture("german.wav"), "audio"), (TestEnv.fixture("spanish.wav"), "audio"), (TestEnv.fixture("speech1.wav"), "audio")]
        let detected = try transcripts(paths, ["--engine", "whisper"])
        XCTAssertEqual(detected.map { $0.string("language") }, ["de", "es", "en"])
        XCTAssertEqual(detected.map { $0.string("language_source") }, ["detected", "detected", "detected"])
        for transcript in detected { XCTAssertGreaterThan(transcript.double("language_probability") ?? 0, 0.5, "\(transcript)") }
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "GUTEN MORGEN HEUTE GEHEN WIR MIT DEN KINDERN IN DEN PARK", in: detected[0].string("text") ?? ""), 0.8)
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "BUENOS TODOS HOY VAMOS AL MERCADO PARA COMPRAR", in: detected[1].string("text") ?? ""), 0.8)
        let forced = try transcripts([paths[0]], whisper + ["--language", "de"])[0]
        XCTAssertEqual(forced.string("language"), "de")
        XCTAssertEqual(forced.string("language_source"), "requested")
        XCTAssertNil(forced["language_probability"])
        let english = try transcripts([paths[0]], englishWhisper + ["--language", "de"])[0]
        XCTAssertEqual(english.string("language"), "en", "tiny.en only knows English")
        XCTAssertEqual(english.string("language_source"), "model")
    }

    /// German speech, then Spanish half a minute later: each window gets its own language; the segments
    /// in the language spoken less say theirs.
    func testEachWindowOfSpeechHasItsOwnLanguage() throws {
        try requireWhisperModel()
        let transcript = try transcripts([(TestEnv.fixture("mixed-de-es.wav"), "audio")], whisper)[0]
        let segments = transcript.array("segments")
        XCTAssertEqual(transcript.string("language"), "de", "\(transcript)")
        XCTAssertEqual(segments.first?.string("language"), nil, "\(segments)")
        XCTAssertEqual(segments.last?.string("language"), "es", "\(segments)")
        XCTAssertGreaterThanOrEqual(wordRecall(expected: "HOY VAMOS AL MERCADO PARA COMPRAR", in: segments.last?.string("text") ?? ""), 0.8)
    }

    /// Under --detect-min seconds of speech, nothing is detected: the fallback language is used and named as such.
    func testTooLittleSpeechKeepsTheFallbackLanguage() throws {
        try requireWhisperModel()
        let short = [(TestEnv.fixture("spanish-short.wav"), "audio")]
        let fallback = try transcripts(short, whisper + ["--detect-min", "3"])[0]
        XCTAssertEqual(fallback.string("language"), "en")
        XCTAssertEqual(fallback.string("language_source"), "fallback")
        let told = try transcripts(short, whisper + ["--detect-min", "3", "--fallback-language", "es"])[0]
        XCTAssertEqual(told.string("language"), "es")
        XCTAssertEqual(told.string("language_source"), "fallback")
    }

    /// A decoding that takes more steps than --token-budget allows stops there with a warning, keeps what
    /// it finished, and the record is not an error.
    func testTokenBudgetStopsALongDecoding() throws {
        try requireWhisperModel()
        let input = recordLine([(TestEnv.fixture("librivox2.wav"), "audio")])
        let full = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots] + whisper, stdin: input)
        let limited = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots] + whisper + ["--token-budget", "1"], stdin: input)
        XCTAssertEqual(limited.status, 0, limited.stderr)
        XCTAssertTrue(limited.stderr.contains("stopped at its decoding budget (--token-budget)"), limited.stderr)
        XCTAssertFalse(full.stderr.contains("--token-budget"), full.stderr)
        let words = { (output: ProcessOutput) in
            (try output.records()[0].array("items")[0].dict("transcript")?.string("text") ?? "").split(separator: " ").count
        }
        XCTAssertGreaterThan(try words(limited), 0)
        XCTAssertLessThan(try words(limited), try words(full) / 2)
    }

    func testWhisperInventsNothingForSilenceToneOrMissingAudio() throws {
        try requireWhisperModel()
        let results = try transcripts([(TestEnv.fixture("silent.mp4"), "video"), (TestEnv.fixture("noaudio.mp4"), "video"),
                                       (TestEnv.fixture("music.wav"), "audio")], whisper)
        for transcript in results {
            XCTAssertEqual(transcript.string("text"), "", "\(transcript)")
            XCTAssertEqual(transcript.array("segments").count, 0)
            XCTAssertEqual(transcript.string("engine"), "whisper")
        }
    }

    func testConcurrentWhisperDecodersAgreeWithOne() throws {
        try requireWhisperModel()
        let paths = [(TestEnv.fixture("talk.mp4"), "video"), (TestEnv.fixture("long.wav"), "audio")]
        let one = try transcripts(paths, whisper + ["--jobs", "1", "--threads", "1"])
        let two = try transcripts(paths, whisper + ["--jobs", "2", "--threads", "1"])
        XCTAssertEqual(one.map { $0.string("text") }, two.map { $0.string("text") })
        XCTAssertFalse((one[0].string("text") ?? "").isEmpty)
    }

    func testAutoPicksWhisperWhenAModelIsConfiguredAndFallsBackToSphinx() throws {
        try requireWhisperModel()
        let input = recordLine([(TestEnv.fixture("talk.mp4"), "video")])
        let configured = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input, environment: ["GG_WHISPER_MODEL": Self.whisperModel])
        XCTAssertEqual(try engine(configured), "whisper")
        let defaulted = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input, environment: ["GG_WHISPER_MODEL": ""])
        XCTAssertEqual(try engine(defaulted), "whisper", "the set-up model is the default")
        let broken = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--whisper-lib", "/nonexistent/libwhisper.so.1"], stdin: input,
                              environment: ["GG_WHISPER_MODEL": Self.whisperModel])
        XCTAssertEqual(broken.status, 0, broken.stderr)
        XCTAssertEqual(try engine(broken), "sphinx")
        XCTAssertTrue(broken.stderr.hasPrefix("gg-transcribe: warning: cannot load /nonexistent/libwhisper.so.1"), broken.stderr)
    }

    /// Without --whisper-lib, a copied gg-transcribe finds libwhisper in the active virtual
    /// environment's pywhispercpp install (here a copy of .whisper/lib laid out as pip does).
    func testLibwhisperIsFoundInAVirtualEnvironment() throws {
        try requireWhisperModel()
        let fm = FileManager.default
        let bin = work.appendingPathComponent("bin")
        let site = work.appendingPathComponent("venv/lib/python3.11/site-packages")
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        try fm.createDirectory(at: site.deletingLastPathComponent(), withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestEnv.tool("gg-transcribe"), toPath: bin.appendingPathComponent("gg-transcribe").path)
        try fm.copyItem(at: TestEnv.repo.appendingPathComponent(".whisper/lib"), to: site)
        let input = recordLine([(TestEnv.fixture("talk.mp4"), "video")])
        let environment = ["GG_WHISPER_MODEL": Self.whisperModel, "HOME": work.path, "GG_WHISPER_LIB": ""]
        let found = try runProcess(bin.appendingPathComponent("gg-transcribe").path, ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input,
                                   environment: environment.merging(["VIRTUAL_ENV": work.appendingPathComponent("venv").path]) { $1 })
        XCTAssertEqual(try engine(found), "whisper", found.stderr)
        let missing = try runProcess(bin.appendingPathComponent("gg-transcribe").path, ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input,
                                     environment: environment.merging(["VIRTUAL_ENV": ""]) { $1 })
        XCTAssertEqual(try engine(missing), "sphinx")
        XCTAssertTrue(missing.stderr.contains("no libwhisper.so.1 found"), missing.stderr)
    }

    func testExplicitWhisperWithoutAModelIsUnavailable() throws {
        let result = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--engine", "whisper", "--model", "/nonexistent/model.bin"],
                              stdin: recordLine([(TestEnv.fixture("talk.mp4"), "video")]))
        XCTAssertEqual(try result.records()[0].errorKind, "engine_unavailable")
        XCTAssertEqual(result.status, 69)
        XCTAssertTrue(result.stderr.contains("no whisper model at /nonexistent/model.bin"), result.stderr)
    }

    /// A model cut after its vocabulary (whisper.cpp takes it for an "empty model" and aborts later),
    /// cut inside its tensors, or not a model at all is reported, never a crash.
    func testDamagedWhisperModelsAreReportedNotLoaded() throws {
        try requireWhisperModel()
        let headerOnly = work.appendingPathComponent("header-only.bin").path
        let cut = """
        import struct, sys
        d = open(sys.argv[1], 'rb').read(); p = 4 + 44
        m, f = struct.unpack_from('<ii', d, p); p += 8 + m * f * 4
        n, = struct.unpack_from('<i', d, p); p += 4
        for _ in range(n):
            l, = struct.unpack_from('<i', d, p); p += 4 + l
        open(sys.argv[2], 'wb').write(d[:p])
        """
        XCTAssertEqual(try runProcess("/usr/bin/env", ["python3", "-c", cut, Self.whisperModel, headerOnly]).status, 0)
        let truncated = work.appendingPathComponent("truncated.bin").path
        let whole = try Data(contentsOf: URL(fileURLWithPath: Self.whisperModel))
        try whole.prefix(whole.count * 2 / 3).write(to: URL(fileURLWithPath: truncated))
        let notModel = TestEnv.fixture("sentences.txt")
        let input = recordLine([(TestEnv.fixture("talk.mp4"), "video")])
        for (model, problem) in [(headerOnly, "holds 0 of the 245 tensors"), (truncated, "truncated in tensor"), (notModel, "not a ggml whisper model")] {
            let explicit = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--engine", "whisper", "--model", model], stdin: input)
            XCTAssertEqual(explicit.status, 69, explicit.stderr)
            XCTAssertEqual(try explicit.records()[0].errorKind, "engine_unavailable")
            XCTAssertTrue(explicit.stderr.contains("cannot use the whisper model \(model): \(problem)"), explicit.stderr)
            let auto = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input, environment: ["GG_WHISPER_MODEL": model])
            XCTAssertEqual(auto.status, 0, auto.stderr)
            XCTAssertEqual(try engine(auto), "sphinx")
        }
    }

    /// A whole model whose header the library refuses (n_audio_ctx 1499: its positional embedding then
    /// has the wrong shape) passes the file check; the engine is chosen when the first record needs it, so
    /// loading fails there: with --engine whisper every record gets an engine_unavailable error, and auto
    /// still warns and falls back to sphinx.
    func testWhisperModelTheLibraryRefusesIsAnErrorRecordOrASphinxFallback() throws {
        try requireWhisperModel()
        var model = try Data(contentsOf: URL(fileURLWithPath: Self.whisperModel))
        model.replaceSubrange(8..<12, with: withUnsafeBytes(of: Int32(1499).littleEndian) { Data($0) })
        let refused = work.appendingPathComponent("refused.bin")
        try model.write(to: refused)
        let input = [recordLine([(TestEnv.fixture("speech1.wav"), "audio")], id: "a"), recordLine([(TestEnv.fixture("speech2.wav"), "audio")], id: "b")]
            .joined(separator: "\n")
        let explicit = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--engine", "whisper",
                                                  "--model", refused.path], stdin: input)
        XCTAssertEqual(explicit.status, 69, explicit.stderr)
        let records = try explicit.records()
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records.map { $0.errorKind }, ["engine_unavailable", "engine_unavailable"])
        XCTAssertTrue(explicit.stderr.contains("cannot load the whisper model \(refused.path)"), explicit.stderr)
        let auto = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: input,
                            environment: ["GG_WHISPER_MODEL": refused.path])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stderr.contains("using the sphinx engine"), auto.stderr)
        XCTAssertEqual(try engine(auto), "sphinx")
    }

    /// A record that runs out of time aborts whisper inside a 300 s chunk (--max-utterance 300 allows one),
    /// so the next record gets the decoder at once, not after the chunk. The margins are wide both ways, so
    /// the verdict does not hang on the machine's speed or load: the long record holds 26 minutes of speech
    /// (about 4.5 minutes of work here, so a machine 13 times faster still runs out of its 20 s), and the
    /// short one needs about a second of the same 20 s (with 2.5 s, then 8 s, it failed in fresh clones under load).
    func testTimeoutAbortsWhisperAndFreesTheDecoder() throws {
        try requireWhisperModel()
        let wav = try goForward()
        let long = work.appendingPathComponent("long30.wav").path
        XCTAssertEqual(try runProcess("/usr/bin/ffmpeg", ["-loglevel", "error", "-stream_loop", "29", "-i", TestEnv.fixture("long.wav"), "-c", "copy", long]).status, 0)
        let input = recordLine([(long, "audio")], id: "long") + "\n" + recordLine([(wav, "audio")], id: "short")
        let result = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--jobs", "1", "--timeout", "20", "--max-utterance", "300"] + whisper, stdin: input)
        let records = try result.records()
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].errorKind, "timeout")
        XCTAssertEqual(normalizedWords(records[1].array("items")[0].dict("transcript")?.string("text") ?? ""), "go forward ten meters", result.stderr)
        XCTAssertEqual(result.status, 75)
    }

    func testCorruptAudioIsAnItemError() throws {
        let result = try tool("gg-transcribe", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots], stdin: recordLine([(TestEnv.fixture("text.mp4"), "video"), (TestEnv.fixture("silent.mp4"), "video")]))
        let items = try result.records()[0].array("items")
        XCTAssertEqual(items[0].errorKind, "not_media")
        XCTAssertNotNil(items[1]["transcript"])
        XCTAssertEqual(result.status, 65)
    }
}

/// Long indexed videos are decoded as parallel stretches; the joins must not change the scenes.
final class SegmentedScenesTests: XCTestCase {
    func testStretchesDecodedInParallelGiveTheSameScenes() throws {
        try TestEnv.ensureFixtures()
        var expected: [String: [Double]] = [:]
        for (name, cuts) in ["seg-cut": [3.0, 6, 9], "seg-nocut": [3, 7, 9.6], "seg-fade": [6], "seg-flash": [9]] {
            expected[name + ".mp4"] = cuts
            expected[name + ".mkv"] = cuts
        }
        expected["seg-nocut.webm"] = [3, 7, 9.6]
        for (fixture, cuts) in expected.sorted(by: { $0.key < $1.key }) {
            var lists = [[[Double]]]()
            for segments in ["1", "2", "3"] {
                let work = TestEnv.temporaryDirectory()
                let result = try tool("gg-scenes", ["--work-dir", work.path, "--allow-root", TestEnv.readableRoots, "--segments", segments, "--verbose"],
                                      stdin: recordLine([(TestEnv.fixture(fixture), "video")], id: "s"))
                let scenes = try result.records()[0].array("items")[0].array("scenes")
                lists.append(scenes.map { [$0.double("start") ?? -1, $0.double("end") ?? -1] })
                let files = try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("s").path).sorted()
                XCTAssertEqual(files, (0..<scenes.count).map { String(format: "0-scene-%03d.jpg", $0) }, "\(fixture) --segments \(segments)")
                XCTAssertEqual(scenes.map { $0.string("keyframe") ?? "" }, files.map { work.appendingPathComponent("s/\($0)").path })
                let stretches = result.stderr.contains(": 1 stretch\n") ? 1 : result.stderr.contains(" stretches, joined at ") ? 2 : 0
                XCTAssertEqual(stretches, segments == "1" ? 1 : 2, "\(fixture) --segments \(segments) is split: \(result.stderr)")
            }
            XCTAssertEqual(lists[1], lists[0], "\(fixture): 2 stretches")
            XCTAssertEqual(lists[2], lists[0], "\(fixture): 3 stretches")
            let found = lists[0].dropFirst().map { $0[0] }
            XCTAssertEqual(found.count, cuts.count, "\(fixture): \(found)")
            for (a, e) in zip(found, cuts) { XCTAssertEqual(a, e, accuracy: 0.041, fixture) }
        }
    }
}
