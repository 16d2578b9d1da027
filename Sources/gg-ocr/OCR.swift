import CTesseract
import Foundation
import GGShared

/// gg-ocr: text in image items and scene keyframes.
enum OCRTool {
    static let info = ToolInfo(
        name: "gg-ocr",
        summary: "Read the text in every image item and scene keyframe with Tesseract.",
        details: """
        Adds "text", "confidence" (mean word confidence, 0-100) and "words" [{text, confidence, box}] to image
        items and to each scene. A scene whose text equals the previous scene's gets "duplicate_of". Bright
        caption strokes are read first (fast on any background); unless that reading is confident, Tesseract's
        own pass on the grayscale picture follows, then thick-stroke, enlarged and sparse-text passes while the
        picture's time budget lasts (--budget times Tesseract's own pass), and the best reading is kept; a
        picture whose budget ran out gets a "budget_exhausted" item warning. Tesseract runs with
        OMP_THREAD_LIMIT=1 per worker.

        Examples:
          gg-ocr --work-dir work < scenes.ndjson > ocr.ndjson
          gg-ocr --work-dir work --lang eng+deu --jobs 2 scenes.ndjson
        """,
        options: [
            OptionSpec("--lang", value: "LANGS", default: "eng", "Tesseract languages, joined with +"),
            OptionSpec("--tessdata", value: "DIR", default: "$TESSDATA_PREFIX or Tesseract's built-in path", "folder holding LANG.traineddata"),
            OptionSpec("--min-confidence", value: "X", default: "40", "drop words recognised with less confidence (0-100)"),
            MediaLimits.maxPixelsOption,
            OptionSpec("--preprocess", value: "MODE", default: "auto", "auto (grayscale, then enlarged, caption-stroke and sparse-text passes while the budget lasts) or none"),
            OptionSpec("--budget", value: "X", default: "2", "time one picture may take, in multiples of Tesseract's own first pass on it"),
            OptionSpec("--min-budget", value: "S", default: "0.15", "time one picture may take at least, in seconds"),
        ],
        libraries: { _ in [TesseractEngine.version, TesseractEngine.leptonicaVersion,
                      "OMP_THREAD_LIMIT=\(ProcessInfo.processInfo.environment["OMP_THREAD_LIMIT"] ?? "unset")"] })

    static func main() -> Never {
        ProcessEnvironment.ensure(["OMP_THREAD_LIMIT": "1"])
        gg_leptonica_quiet()
        let runner = StageRunner(tool: info)
        let options = runner.options
        MediaLimits.configure(options)
        let language = options.string("--lang") ?? "eng"
        let dataPath = options.string("--tessdata")
        let reader = TextReader(
            pool: ResourcePool(size: runner.jobs) { try TesseractEngine(language: language, dataPath: dataPath) },
            minConfidence: options.double("--min-confidence", default: 40, min: 0, max: 100),
            preprocess: options.choice("--preprocess", default: "auto", from: ["auto", "none"]) == "auto",
            budget: OCRBudget(factor: options.double("--budget", default: 2, min: 1, max: 100),
                              minimum: options.double("--min-budget", default: 0.15, min: 0, max: 3600)),
            missingLanguage: TextReader.missingLanguage(language, dataPath: dataPath))
        runner.run { record, context in try reader.read(record, context) }
    }
}

/// What OCR found in one picture.
struct TextResult: Sendable {
    var text: String
    var confidence: Double
    var words: [Word]
    /// Why the reading may be incomplete (its time budget ran out).
    var note: String?
}

/// How long one picture may take: `factor` times Tesseract's own first pass, at least `minimum` seconds.
struct OCRBudget: Sendable {
    var factor: Double
    var minimum: Double
}

/// Runs OCR over a record's pictures with a shared engine pool.
struct TextReader: @unchecked Sendable {
    let pool: ResourcePool<TesseractEngine>
    let minConfidence: Double
    let preprocess: Bool
    let budget: OCRBudget
    let missingLanguage: GGError?

    static func tessdataDir(_ explicit: String?) -> String {
        if let explicit { return explicit }
        if let prefix = ProcessInfo.processInfo.environment["TESSDATA_PREFIX"] { return prefix }
        return "/usr/share/tesseract-ocr/5/tessdata"
    }

    /// The error to report when a language's traineddata file is missing, naming its Debian package.
    static func missingLanguage(_ languages: String, dataPath: String?) -> GGError? {
        let dir = tessdataDir(dataPath)
        for language in languages.split(separator: "+").map(String.init) {
            let file = "\(dir)/\(language).traineddata"
            if !FileManager.default.fileExists(atPath: file) {
                let package = "tesseract-ocr-" + language.lowercased().replacingOccurrences(of: "_", with: "-")
                return GGError("language_unavailable", "no \(file); install the Debian package \(package) or pass --tessdata DIR")
            }
        }
        return nil
    }

    func read(_ input: Record, _ context: StageContext) throws -> Record {
        var record = input
        guard var items = record.items else { return record }
        if let missingLanguage { throw missingLanguage }
        var pending = [(item: Int, scene: Int?, path: String)]()
        for (i, item) in items.enumerated() where item.error == nil {
            if item.type == .image {
                pending.append((i, nil, item.path))
            } else {
                for (s, scene) in (item.scenes ?? []).enumerated() where !scene.keyframe.isEmpty && scene.error == nil {
                    pending.append((i, s, scene.keyframe))
                }
            }
        }
        let jobs = pending
        let root = context.root
        let results = ResultSlots<TextResult>(count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: jobs.count) { n in
            if context.cancellation.isCancelled { return }
            results.set(n, Result { try recognize(path: root.confine(jobs[n].path), cancellation: context.cancellation) })
        }
        try context.checkCancelled()
        for (n, job) in jobs.enumerated() {
            switch results.get(n) {
            case .success(let found):
                if let note = found.note {
                    items[job.item].warnings = (items[job.item].warnings ?? []) + [job.scene.map { "scene \($0): \(note)" } ?? note]
                }
                if let s = job.scene {
                    items[job.item].scenes![s].text = found.text
                    items[job.item].scenes![s].confidence = found.confidence
                    items[job.item].scenes![s].words = found.words
                } else {
                    items[job.item].text = found.text
                    items[job.item].confidence = found.confidence
                    items[job.item].words = found.words
                }
            case .failure(let error):
                let failure = context.failure(error)
                if let s = job.scene {
                    items[job.item].scenes![s].error = failure
                } else {
                    items[job.item].error = failure
                }
            case nil:
                throw context.cancellation.error
            }
        }
        for i in items.indices where items[i].scenes != nil {
            TextReader.markDuplicates(&items[i].scenes!)
        }
        record.items = items
        return record
    }

    static func markDuplicates(_ scenes: inout [Scene]) {
        func normal(_ text: String?) -> String {
            (text ?? "").lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        }
        for s in scenes.indices.dropFirst() {
            let text = normal(scenes[s].text)
            guard !text.isEmpty, normal(scenes[s - 1].text) == text else { continue }
            scenes[s].duplicateOf = scenes[s - 1].duplicateOf ?? scenes[s - 1].index
        }
    }

    /// Reads one picture at a bounded cost. Bright caption strokes (a top-hat filter) are read first: the
    /// filtered picture is mostly black, so Tesseract reads it fast whatever the background, and a confident
    /// reading ends there. Otherwise Tesseract's own pass on the grayscale picture follows (what its command
    /// line costs), then, while the picture's budget lasts (`--budget` times that pass, at least
    /// `--min-budget` seconds), thick strokes, the enlarged picture and sparse text; passes on the plain
    /// picture are predicted from the first one's time per pixel and skipped when they would overrun, and
    /// every pass stops at the deadline. The best reading is kept.
    func recognize(path: String, cancellation: Cancellation) throws -> TextResult {
        let original = try Picture.read(path: path)
        guard preprocess else {
            return try pool.with { result(kept(try $0.recognize(original, mode: PSM_AUTO, scale: 1, cancellation: cancellation))) }
        }
        let gray = try original.gray()
        let shortSide = min(gray.width, gray.height)
        let scale = shortSide < 720 ? min(3, 720 / Double(max(shortSide, 1))) : 1
        let large = scale > 1 ? try gray.scaled(scale) : gray
        let strokeWidth = Int((Double(large.height) / 120).rounded())
        return try pool.with { engine in
            let thin = try large.brightStrokes(stroke: strokeWidth, opening: strokeWidth * 2 / 3, level: 90)
            var best = kept(try engine.recognize(thin, mode: PSM_AUTO, scale: scale, cancellation: cancellation))
            if TextReader.confident(best) { return result(best) }
            let started = monotonicSeconds()
            let plain = kept(try engine.recognize(gray, mode: PSM_AUTO, scale: 1, cancellation: cancellation))
            if Recognition.score(plain) > Recognition.score(best) { best = plain }
            if TextReader.confident(best) { return result(best) }
            let first = monotonicSeconds() - started
            let deadline = started + max(budget.factor * first, budget.minimum)
            let perPixel = first / Double(max(gray.width * gray.height, 1))
            let passes: [(plain: Bool, make: () throws -> (Picture, TessPageSegMode))] = [
                (false, { (try large.brightStrokes(stroke: strokeWidth, opening: strokeWidth + 1, level: 90), PSM_AUTO) }),
                (true, { (large, PSM_AUTO) }),
                (false, { (thin, PSM_SPARSE_TEXT) }),
                (true, { (large, PSM_SPARSE_TEXT) }),
            ]
            var exhausted = false
            for (index, pass) in passes.enumerated() where index != 1 || scale > 1 {
                let predicted = pass.plain ? perPixel * Double(large.width * large.height) : 0
                if monotonicSeconds() + predicted > deadline {
                    exhausted = true
                    continue
                }
                let (picture, mode) = try pass.make()
                let reading = try engine.recognize(picture, mode: mode, scale: scale, cancellation: cancellation, deadline: deadline)
                if reading.stoppedAtDeadline {
                    exhausted = true
                    break
                }
                let words = kept(reading)
                if Recognition.score(words) > Recognition.score(best) { best = words }
                if TextReader.confident(best) { break }
            }
            var found = result(best)
            if exhausted && !TextReader.confident(best) {
                found.note = "budget_exhausted: OCR stopped at its time budget of \(String(format: "%.2f", deadline - started)) s; the best reading so far is kept"
            }
            return found
        }
    }

    /// A reading needs no further pass: it has words, all read with good confidence, and no lone letter
    /// (a lone letter other than A or I is mostly a word read in part).
    static func confident(_ words: [RecognizedWord]) -> Bool {
        !words.isEmpty && words.allSatisfy { word in
            word.confidence >= 80 && !(word.text.count == 1 && word.text.first!.isLetter && !"AaI".contains(word.text))
        }
    }

    private func kept(_ recognition: Recognition) -> [RecognizedWord] {
        recognition.words.filter { $0.confidence >= minConfidence && $0.text.contains(where: { $0.isLetter || $0.isNumber }) }
    }

    private func result(_ words: [RecognizedWord]) -> TextResult {
        var text = ""
        for (n, word) in words.enumerated() {
            if n > 0 { text += word.lineStart ? "\n" : " " }
            text += word.text
        }
        let mean = words.isEmpty ? 0 : words.reduce(0) { $0 + $1.confidence } / Double(words.count)
        return TextResult(text: text, confidence: (mean * 10).rounded() / 10,
                          words: words.map { Word(text: $0.text, confidence: $0.confidence, box: $0.box) })
    }
}
