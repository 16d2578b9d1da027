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
        items and to each scene. A scene whose text equals the previous scene's gets "duplicate_of". Images are
        converted to grayscale and small ones enlarged; when the automatic page layout finds little, a
        sparse-text pass is tried and the better reading kept. Tesseract runs with OMP_THREAD_LIMIT=1 per worker.

        Examples:
          gg-ocr --work-dir work < scenes.ndjson > ocr.ndjson
          gg-ocr --work-dir work --lang eng+deu --jobs 2 scenes.ndjson
        """,
        options: [
            OptionSpec("--lang", value: "LANGS", default: "eng", "Tesseract languages, joined with +"),
            OptionSpec("--tessdata", value: "DIR", default: "$TESSDATA_PREFIX or Tesseract's built-in path", "folder holding LANG.traineddata"),
            OptionSpec("--min-confidence", value: "X", default: "40", "drop words recognised with less confidence (0-100)"),
            MediaLimits.maxPixelsOption,
            OptionSpec("--preprocess", value: "MODE", default: "auto", "auto (grayscale, enlarge, sparse fallback) or none"),
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
            missingLanguage: TextReader.missingLanguage(language, dataPath: dataPath))
        runner.run { record, context in try reader.read(record, context) }
    }
}

/// What OCR found in one picture.
struct TextResult: Sendable {
    var text: String
    var confidence: Double
    var words: [Word]
}

/// Runs OCR over a record's pictures with a shared engine pool.
struct TextReader: @unchecked Sendable {
    let pool: ResourcePool<TesseractEngine>
    let minConfidence: Double
    let preprocess: Bool
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

    func recognize(path: String, cancellation: Cancellation) throws -> TextResult {
        let original = try Picture.read(path: path)
        var picture = original
        var scale = 1.0
        if preprocess {
            picture = try original.gray()
            let shortSide = min(picture.width, picture.height)
            if shortSide < 720 {
                scale = min(3, 720 / Double(max(shortSide, 1)))
                picture = try picture.scaled(scale)
            }
        }
        let gray = picture
        let factor = scale
        let strokeWidth = Int((Double(gray.height) / 120).rounded())
        return try pool.with { engine in
            var best = kept(try engine.recognize(gray, mode: PSM_AUTO, scale: factor, cancellation: cancellation))
            guard preprocess else { return result(best) }
            let thin = try gray.brightStrokes(stroke: strokeWidth, opening: strokeWidth * 2 / 3, level: 90)
            let thick = try gray.brightStrokes(stroke: strokeWidth, opening: strokeWidth + 1, level: 90)
            let candidates = [(thin, PSM_AUTO), (thick, PSM_AUTO), (thin, PSM_SPARSE_TEXT), (gray, PSM_SPARSE_TEXT)]
            for (index, (candidate, mode)) in candidates.enumerated() {
                if index >= 1 && best.count >= 3 && !best.contains(where: { $0.confidence < 75 }) { break }
                let words = kept(try engine.recognize(candidate, mode: mode, scale: factor, cancellation: cancellation))
                if Recognition.score(words) > Recognition.score(best) { best = words }
            }
            return result(best)
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
