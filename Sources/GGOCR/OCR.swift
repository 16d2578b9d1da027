import CTesseract
import Foundation
import GGShared

/// gg-ocr: text in image items and scene keyframes.
public enum OCRTool {
    static let info = ToolInfo(
        name: "gg-ocr",
        summary: "Read the text in every image item and scene keyframe with Tesseract.",
        details: """
        Adds "text", "confidence" (mean word confidence, 0-100) and "words" [{text, confidence, box}] to image
        items and to each scene. A scene whose text equals the previous scene's gets "duplicate_of". Each picture
        has a budget (--budget seconds per megapixel) of CPU time estimated from the pixels and words read, so it
        reads the same on a busy machine. Tesseract's plain reading of the picture comes first (not on texture);
        caption lines read alone replace its words only on evidence; then the grayscale picture is read as a page
        and as sparse text, until a reading is confident. --lang auto (the default) reads each line in its script.
        How: docs/stages/ocr.md.

        Examples:
          gg-ocr --work-dir work < scenes.ndjson > ocr.ndjson
          gg-ocr --work-dir work --lang deu+eng --jobs 2 scenes.ndjson
        """,
        options: [
            OptionSpec("--lang", value: "LANGS", default: "auto", "auto (English, and the script of each line English cannot read) or Tesseract languages joined with +"),
            OptionSpec("--tessdata", value: "DIR", default: "$TESSDATA_PREFIX or Tesseract's built-in path", "folder holding LANG.traineddata"),
            OptionSpec("--min-confidence", value: "X", default: "40", "drop words recognised with less confidence (0-100)"),
            MediaLimits.maxPixelsOption,
            OptionSpec("--preprocess", value: "MODE", default: "auto", "auto (the plain reading, text lines alone, then the grayscale picture, enlarged when small, read as a page and as sparse text while the budget lasts) or none (Tesseract on the picture as it is)"),
            OptionSpec("--budget", value: "S", default: "3", "CPU seconds one picture may take per megapixel of it (all passes together), estimated from the pixels and words read, so a picture reads the same on a busy machine"),
            OptionSpec("--min-budget", value: "S", default: "0.25", "estimated CPU seconds one picture may take at least"),
            OptionSpec("--print-settings", "print the options' values and every fixed setting of the reader (Sources/GGOCR/OCRSettings.swift), then exit"),
        ],
        libraries: { _ in [TesseractEngine.version, TesseractEngine.leptonicaVersion,
                      "OMP_THREAD_LIMIT=\(ProcessInfo.processInfo.environment["OMP_THREAD_LIMIT"] ?? "unset")"] })

    public static func main() -> Never {
        ProcessEnvironment.ensure(["OMP_THREAD_LIMIT": "1"])
        gg_leptonica_quiet()
        let runner = StageRunner(tool: info)
        let options = runner.options
        MediaLimits.configure(options)
        let requested = options.string("--lang") ?? "auto"
        let dataPath = options.string("--tessdata")
        let minConfidence = options.double("--min-confidence", default: 40, min: 0, max: 100)
        let preprocess = options.choice("--preprocess", default: "auto", from: ["auto", "none"])
        let budget = OCRBudget(secondsPerMegapixel: options.double("--budget", default: 3, min: 0, max: 3600),
                               minimum: options.double("--min-budget", default: 0.25, min: 0, max: 3600))
        if options.flag("--print-settings") {
            print("lang = \(requested)\nminConfidence = \(minConfidence)\npreprocess = \(preprocess)", terminator: "\n")
            print("budget.secondsPerMegapixel = \(budget.secondsPerMegapixel)\nbudget.minimum = \(budget.minimum)", terminator: "\n")
            print(settings.listing, terminator: "")
            exit(ExitCode.ok.rawValue)
        }
        let languages = OCRLanguages(requested, dataPath: dataPath)
        if let missing = languages.missingScripts {
            runner.diagnostics.warning("--lang auto: no traineddata for \(missing); text in those scripts is read as Latin (scripts/setup installs them)")
        }
        let reader = TextReader(
            pool: { let scripts = ScriptEngines(dataPath: dataPath)
                    return ResourcePool(size: runner.jobs) { TesseractShelf(dataPath: dataPath, scripts: scripts) } }(),
            languages: languages,
            minConfidence: minConfidence,
            preprocess: preprocess == "auto",
            budget: budget,
            missingLanguage: TextReader.missingLanguage(languages.primary, dataPath: dataPath))
        runner.run { record, context in try reader.read(record, context) }
    }
}

/// What OCR found in one picture.
struct TextResult: Sendable {
    var text: String
    var confidence: Double
    var words: [Word]
    /// Why the reading may be incomplete (its budget ran out).
    var note: String?
}

extension TextResult {
    /// The result of reading a picture turned `quarterTurns` clockwise quarter turns, with its boxes turned back
    /// into the picture before the turn (`width` by `height`).
    func turnedBack(_ quarterTurns: Int, width: Int, height: Int) -> TextResult {
        var turned = self
        turned.words = words.map { word in
            var word = word
            let b = word.box
            switch quarterTurns % 4 {
            case 1: word.box = WordBox(x: b.y, y: height - (b.x + b.w), w: b.h, h: b.w)
            case 2: word.box = WordBox(x: width - (b.x + b.w), y: height - (b.y + b.h), w: b.w, h: b.h)
            case 3: word.box = WordBox(x: width - (b.y + b.h), y: b.x, w: b.h, h: b.w)
            default: break
            }
            return word
        }
        return turned
    }
}

/// How long one picture may take, in CPU seconds: per megapixel of the picture, at least `minimum`.
struct OCRBudget: Sendable {
    var secondsPerMegapixel: Double
    var minimum: Double
}

/// Runs OCR over a record's pictures with a shared engine pool.
struct TextReader: Sendable {
    let pool: ResourcePool<TesseractShelf>
    let languages: OCRLanguages
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
        try context.cancellation.check()
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

    /// Reads one picture within a budget proportional to its size (`--budget` seconds per megapixel, at least
    /// `--min-budget`, of CPU time estimated from the work: `WorkBudget`): Tesseract's plain reading of the
    /// picture (not on texture), which the other passes must beat; lines of glyphs alone (small crops, cheap on
    /// any background) laid over it (`merged`), then the grayscale picture (enlarged when small) read as a page
    /// and as sparse text, stopping as soon as a reading is confident and leaves none of the plain reading's
    /// words unread; every pass but the plain one stops at the budget, and the best reading so far is kept.
    func recognize(path: String, cancellation: Cancellation) throws -> TextResult {
        let original = try Picture.read(path: path)
        return try pool.with { shelf in try readPicture(original, shelf: shelf, cancellation: cancellation, turns: 0) }
    }

    /// Reads one picture as `recognize` tells, `turns` clockwise quarter turns from the picture `recognize` was
    /// given. When the caption lines read without confidence, `readUpright` may turn the picture upright and read
    /// it again; that reading is kept if it scores better: the plain CLI reads upside-down pages as junk, and
    /// other scripts' models "read" them as their letters.
    private func readPicture(_ original: Picture, shelf: TesseractShelf, cancellation: Cancellation, turns: Int) throws -> TextResult {
        let megapixels = Double(original.width * original.height) / 1e6
        let allowance = max(budget.minimum, budget.secondsPerMegapixel * megapixels)
        let work = WorkBudget(allowance: allowance)
        guard preprocess else {
            let engine = try shelf.engine(languages.primary)
            let reading = try engine.recognize(original, mode: PSM_AUTO, scale: 1, cancellation: cancellation, budget: work)
            var found = result(kept(reading))
            if reading.stoppedAtBudget { found.note = budgetNote(allowance) }
            return found
        }
        let gray = try original.gray()
        let shortSide = min(gray.width, gray.height)
        let tuning = settings.passes
        let scale = Double(shortSide) < tuning.enlargedShortSide ? min(tuning.maxEnlargement, tuning.enlargedShortSide / Double(max(shortSide, 1))) : 1
        let image = GrayImage(gray)
        let maps = CaptionLines.thresholds.map { BlobMap(image, inside: $0) }
        let textured = CaptionLines.isTexture(maps, pixels: image.width * image.height)
        var large: Picture?
        func enlarged() throws -> Picture {
            if large == nil { large = scale > 1 ? try gray.scaled(scale) : gray }
            return large!
        }
        var plain: [RecognizedWord]?
        var engine = try shelf.engine(languages.primary)
        var plainUnread = [RecognizedWord]()
        if !textured {
            let reading = try engine.recognize(original, mode: PSM_AUTO, scale: 1, estimatesResolution: true, cancellation: cancellation,
                                               budget: work, stops: false)
            plain = kept(reading)
            plainUnread = TextReader.unreadWords(reading)
        }
        var scriptFound = false
        func read(_ picture: Picture, _ mode: TessPageSegMode) throws -> Recognition {
            try engine.recognize(picture, mode: mode, scale: scale, cancellation: cancellation, budget: work)
        }
        let passes: [() throws -> Recognition?] = [
            {
                let lines = try readCaptionLines(image, maps: maps, shelf: shelf, scripts: !textured,
                                                 latin: (plain ?? []).filter(TextReader.isKnown).map(\.box), cancellation: cancellation, budget: work)
                if let script = lines.script {
                    engine = try shelf.engine(script + "+" + languages.primary)
                    scriptFound = true
                }
                return lines.recognition
            },
            { textured ? nil : try read(try enlarged(), PSM_AUTO) },
            { textured ? nil : try read(try enlarged(), PSM_SPARSE_TEXT) },
        ]
        var best = plain.map { TextReader.merged([], into: $0) } ?? []
        var exhausted = false
        var unread = [RecognizedWord]()
        for (n, pass) in passes.enumerated() {
            if n == 1, turns == 0, !textured, !TextReader.confident(best), let upright = try readUpright(original, gray, shelf, cancellation),
               Recognition.score(upright.words) > Recognition.score(best) {
                return upright
            }
            if work.spent > work.allowance {
                exhausted = true
                break
            }
            guard let reading = try pass() else { continue }
            if n == 1 { unread = TextReader.unreadWords(reading) }
            let words = kept(reading)
            if n == 0, let plain {
                best = TextReader.merged(words, into: plain)
            } else if Recognition.score(words) > Recognition.score(best) {
                best = words
            }
            if reading.stoppedAtBudget {
                exhausted = true
                break
            }
            if TextReader.confident(best), plainUnread.allSatisfy({ word in best.contains { TextReader.overlap(word.box, $0.box) } }) { break }
        }
        unread = unread.filter { word in !best.contains { !TextReader.isUnread($0) && TextReader.overlap(word.box, $0.box) } }
        if !languages.scripts.isEmpty, !textured, !scriptFound, !exhausted {
            var other: [RecognizedWord]?
            if let row = TextReader.unreadRow(unread), let picture = large, TextReader.leavesUnread(unread, width: row.w) {
                other = try readInOtherScripts(row, picture: picture, scale: scale, shelf: shelf, against: best, cancellation: cancellation, budget: work)
            }
            if other == nil, languages.detectsScript, !TextReader.confident(best) {
                other = try readInDetectedScript(gray, scale: 1, shelf: shelf, against: best, cancellation: cancellation, budget: work)
            }
            if let other { best = other }
        }
        var found = result(best)
        if exhausted { found.note = budgetNote(allowance) }
        return found
    }

    /// When Tesseract's OSD finds the text of `gray` turned (`Passes.minOrientationConfidence`): `original` turned
    /// upright and read, its boxes turned back; nil otherwise. The detection is not charged to the budget; the
    /// reading has a budget of its own.
    private func readUpright(_ original: Picture, _ gray: Picture, _ shelf: TesseractShelf, _ cancellation: Cancellation) throws -> TextResult? {
        guard languages.detectsOrientation,
              let layout = try shelf.withScript(OCRLanguages.scriptDetection, { $0.detectLayout(gray, minGlyphs: settings.passes.orientationGlyphs) }),
              layout.quarterTurns != 0, layout.confidence >= settings.passes.minOrientationConfidence else { return nil }
        let upright = try readPicture(original.rotated(quarterTurns: layout.quarterTurns), shelf: shelf, cancellation: cancellation,
                                      turns: layout.quarterTurns)
        return upright.turnedBack(layout.quarterTurns, width: original.width, height: original.height)
    }

    /// When the primary language left a row of words unread (`isUnread`, where its best reading has no word read)
    /// and no line of glyphs told the script (large print on a small picture, glyphs of several pieces, a
    /// caption beside a confident English watermark): that row, padded, read in the `picture` it was found in
    /// with each script's model; if one reads it better than the primary language does, in its own letters, the
    /// whole picture is read with that script and the primary language, and returned if it reads better than
    /// `primary`; nil otherwise. The row's reads are not charged (charged, they were cut on captions in 12 scripts,
    /// 0.724 to 0.574 on seed 1); the whole picture's read is charged to `budget`, and stops at it.
    private func readInOtherScripts(_ row: WordBox, picture: Picture, scale: Double, shelf: TesseractShelf,
                                    against primary: [RecognizedWord], cancellation: Cancellation, budget: WorkBudget) throws -> [RecognizedWord]? {
        let pad = Int(Double(row.h) * settings.scripts.rowPad)
        let region = WordBox(x: Int(Double(max(0, row.x - pad)) * scale), y: Int(Double(max(0, row.y - pad)) * scale),
                             w: Int(Double(row.w + 2 * pad) * scale), h: Int(Double(row.h + 2 * pad) * scale))
        let clipped = WordBox(x: region.x, y: region.y, w: min(region.w, picture.width - region.x), h: min(region.h, picture.height - region.y))
        guard clipped.w > 0, clipped.h > 0 else { return nil }
        func read(_ engine: TesseractEngine) throws -> [RecognizedWord] {
            kept(try engine.recognize(picture, mode: PSM_SINGLE_BLOCK, scale: scale, region: clipped, cancellation: cancellation))
        }
        var winner: (script: String, words: [RecognizedWord])?
        let baseline = try read(shelf.engine(languages.primary))
        for script in languages.scripts {
            let words = try shelf.withScript(script, read)
            if TextReader.scriptWins(words, in: script, over: winner?.words ?? baseline, across: row.w) { winner = (script, words) }
        }
        guard let winner else { return nil }
        let whole = kept(try shelf.engine(winner.script + "+" + languages.primary).recognize(picture, mode: PSM_AUTO, scale: scale,
                                                                                              cancellation: cancellation, budget: budget))
        return TextReader.readsBetter(whole, than: primary) ? whole : nil
    }

    /// When the primary language read a picture without confidence and left no row of words unread (it read
    /// nothing, or a short word such as "Ben" in a still of Chinese), and no line of glyphs told the script:
    /// Tesseract's script detection (OSD) on the picture names a script, whose models read the whole picture;
    /// a reading that `readsBetter` than `primary` and `isWritten` in the script is kept. OSD tells Han,
    /// kana and Hangul apart poorly, so any of them tries the four models of that family. A picture with too
    /// few glyph-like blobs for OSD costs only the detection. The reads are charged to `budget`, and stop at it.
    private func readInDetectedScript(_ picture: Picture, scale: Double, shelf: TesseractShelf, against primary: [RecognizedWord],
                                      cancellation: Cancellation, budget: WorkBudget) throws -> [RecognizedWord]? {
        guard let detected = try shelf.withScript(OCRLanguages.scriptDetection, { $0.detectScript(picture) }) else { return nil }
        var best: [RecognizedWord]?
        for script in OCRLanguages.family(of: detected).filter(languages.scripts.contains) {
            let words = kept(try shelf.withScript(script) {
                try $0.recognize(picture, mode: PSM_AUTO, scale: scale, cancellation: cancellation, budget: budget)
            })
            if TextReader.readsBetter(words, than: best ?? primary), OCRLanguages.isWritten(in: script, words) { best = words }
        }
        return best
    }

    /// Reads each line of glyphs that `CaptionLines` finds, alone and with nothing behind it; a line read
    /// with low confidence, or overlapping a line read better from the other threshold, is dropped.
    /// Lines are tried longest first, and a threshold's lines are given up after `Passes.maxUnreadableLines`
    /// unreadable ones in a row.
    /// With `--lang auto`, a line the primary language leaves a third unread, with no known word (`isKnown`), is
    /// read with each script's model too, the best reading in the script's own letters kept (the script that won
    /// a line is tried first, and enough when confident); when no script reads the first such line better, or a
    /// line was read in the primary language before it, no more are tried.
    /// Scripts are not tried on texture (`scripts` false), where rows of blobs are rarely text, nor on a line
    /// holding a `latin` box (a known word of the plain reading). Returns the languages of the script that won
    /// most lines, if any; the words of lines a script won carry it.
    private func readCaptionLines(_ image: GrayImage, maps: [BlobMap], shelf: TesseractShelf, scripts: Bool, latin: [WordBox],
                                  cancellation: Cancellation, budget: WorkBudget) throws -> (recognition: Recognition, script: String?) {
        let primary = try shelf.engine(languages.primary)
        var read = [(line: TextLine, words: [RecognizedWord], script: String?)]()
        var stopped = false
        var scriptsTried = 0, scriptReads = 0
        var primaryRead = false
        var wins = [String: Int]()
        thresholds: for map in maps {
            var unreadable = 0
            for line in CaptionLines.lines(in: map, imageHeight: image.height).sorted(by: { $0.glyphs.count > $1.glyphs.count }) {
                if unreadable == settings.passes.maxUnreadableLines { break }
                let (picture, scale, x, y) = try CaptionLines.render(line, from: map, width: image.width, height: image.height)
                let reading = try primary.recognize(picture, mode: PSM_SINGLE_LINE, scale: scale, origin: (x, y),
                                                    cancellation: cancellation, budget: budget)
                if reading.stoppedAtBudget {
                    stopped = true
                    break thresholds
                }
                var words = kept(reading)
                var script: String?
                let width = line.maxX - line.minX + 1
                let box = WordBox(x: line.minX, y: line.minY, w: width, h: line.maxY - line.minY + 1)
                if scripts, !languages.scripts.isEmpty, TextReader.leavesUnread(TextReader.unreadWords(reading), width: width),
                   !reading.words.contains(where: TextReader.isKnown), !latin.contains(where: { TextReader.overlap($0, box) }),
                   scriptsTried < 1 && !primaryRead || !wins.isEmpty {
                    scriptsTried += 1
                    let order = languages.scripts.sorted { wins[$0, default: 0] > wins[$1, default: 0] }
                    for candidate in order where scriptReads < settings.scripts.maxReads {
                        scriptReads += 1
                        let otherWords = kept(try shelf.withScript(candidate) {
                            try $0.recognize(picture, mode: PSM_SINGLE_LINE, scale: scale, origin: (x, y), cancellation: cancellation)
                        })
                        if TextReader.scriptWins(otherWords, in: candidate, over: words, across: width) {
                            (words, script) = (otherWords, candidate)
                            if wins[candidate] != nil, TextReader.confident(words) { break }
                        }
                    }
                    if let script { wins[script, default: 0] += 1 }
                }
                guard !words.isEmpty, TextReader.meanConfidence(words) >= settings.passes.lineConfidence else {
                    unreadable += 1
                    continue
                }
                unreadable = 0
                if script == nil { primaryRead = true }
                for n in words.indices { (words[n].lineStart, words[n].script) = (n == 0, script) }
                read.append((line, words, script))
            }
        }
        var chosen = [(line: TextLine, words: [RecognizedWord], script: String?)]()
        for candidate in read.sorted(by: { Recognition.score($0.words) > Recognition.score($1.words) })
        where !chosen.contains(where: { CaptionLines.overlap($0.line, candidate.line) }) {
            chosen.append(candidate)
        }
        chosen.sort { a, b in
            let sameRow = min(a.line.maxY, b.line.maxY) - max(a.line.minY, b.line.minY) > min(a.line.glyphHeight, b.line.glyphHeight) / 2
            return sameRow ? a.line.minX < b.line.minX : a.line.minY < b.line.minY
        }
        var chosenScripts = [String: Int]()
        for line in chosen { if let script = line.script { chosenScripts[script, default: 0] += 1 } }
        let script = chosenScripts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
        return (Recognition(words: chosen.flatMap(\.words), stoppedAtBudget: stopped), script)
    }

    /// Whether one script's reading of the same pixels beats another's: by confidence over `doubtfulConfidence`
    /// times the width the words cover (characters are no measure across scripts: one Hangul syllable spans three
    /// Latin letters), by `Scripts.margin`.
    static func readsBetter(_ words: [RecognizedWord], than other: [RecognizedWord]) -> Bool {
        func coverage(_ words: [RecognizedWord]) -> Double {
            words.reduce(0) { $0 + ($1.confidence - settings.passes.doubtfulConfidence) * Double($1.box.w) }
        }
        let candidate = coverage(words)
        return candidate > 0 && candidate > max(0, coverage(other)) * settings.scripts.margin
    }

    /// Whether another script's reading of a row `width` pixels wide replaces `other`: it `readsBetter`,
    /// `reads` across the row and `isWritten` in that script.
    static func scriptWins(_ words: [RecognizedWord], in script: String, over other: [RecognizedWord], across width: Int) -> Bool {
        readsBetter(words, than: other) && reads(words, across: width) && OCRLanguages.isWritten(in: script, words)
    }

    /// Whether words a reading could not read (`unreadWords`) span `Scripts.unreadShare` or more of a row `width`
    /// pixels wide: text in another script.
    static func leavesUnread(_ unread: [RecognizedWord], width: Int) -> Bool {
        Double(unread.reduce(0) { $0 + $1.box.w }) >= Double(width) * settings.scripts.unreadShare
    }

    /// The words of two or more characters a reading could not read (`Scripts.unreadConfidence`,
    /// `Scripts.unknownWordConfidence`).
    static func unreadWords(_ reading: Recognition) -> [RecognizedWord] {
        reading.words.filter(isUnread)
    }

    /// Whether the primary language read a word with the evidence of Latin text (`Scripts.knownWordConfidence`,
    /// `Scripts.knownWordLetters`). A line holding one is not tried in other scripts (their models read Latin
    /// capitals as their own letters: "WATCH UNTIL THE END" in Thai); the words left unread around it may still
    /// be, as a row (`readInOtherScripts`).
    static func isKnown(_ word: RecognizedWord) -> Bool {
        let s = settings.scripts
        return word.inDictionary && word.confidence >= s.knownWordConfidence && word.text.filter(\.isLetter).count >= s.knownWordLetters
    }

    static func isUnread(_ word: RecognizedWord) -> Bool {
        let s = settings.scripts
        return word.text.count >= s.minCharacters && (word.confidence < s.unreadConfidence
            || !word.inDictionary && word.confidence < s.unknownWordConfidence && word.text.allSatisfy(\.isLetter))
    }

    /// Whether a reading is one a script can win with: one a line is kept for (`Passes.lineConfidence`), of
    /// `Scripts.minCharacters` or more, over `Scripts.readShare` of the row's width at least; other scripts'
    /// models read background texture too, as a lone letter or mark ("MORNING RUN" came out between a Thai
    /// vowel sign, a Cyrillic і and a Bengali syllable).
    static func reads(_ words: [RecognizedWord], across width: Int) -> Bool {
        let s = settings.scripts
        return !words.isEmpty && meanConfidence(words) >= settings.passes.lineConfidence && words.reduce(0) { $0 + $1.text.count } >= s.minCharacters
            && Double(words.reduce(0) { $0 + $1.box.w }) >= Double(width) * s.readShare
    }

    static func meanConfidence(_ words: [RecognizedWord]) -> Double {
        words.isEmpty ? 0 : words.reduce(0) { $0 + $1.confidence } / Double(words.count)
    }

    /// Whether two boxes share any pixel.
    static func overlap(_ a: WordBox, _ b: WordBox) -> Bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    /// The box of the row holding the largest unread word, with the unread words beside it.
    static func unreadRow(_ words: [RecognizedWord]) -> WordBox? {
        guard let largest = words.max(by: { $0.box.w * $0.box.h < $1.box.w * $1.box.h }) else { return nil }
        let row = words.filter { word in
            min(word.box.y + word.box.h, largest.box.y + largest.box.h) - max(word.box.y, largest.box.y) > min(word.box.h, largest.box.h) / 2
        }
        return enclosing(row.map(\.box))
    }

    private func budgetNote(_ seconds: Double) -> String {
        "budget_exhausted: OCR stopped at its budget of \(String(format: "%.2f", seconds)) s of estimated CPU time; the best reading so far is kept"
    }

    /// A reading needs no further pass: it has words, all read at `Passes.confidentWord` or over, and no lone
    /// letter (a lone letter other than A or I is mostly a word read in part).
    static func confident(_ words: [RecognizedWord]) -> Bool {
        !words.isEmpty && words.allSatisfy { word in
            word.confidence >= settings.passes.confidentWord && !(word.text.count == 1 && word.text.first!.isLetter && !"AaI".contains(word.text))
        }
    }

    /// The caption lines' reading laid over the plain reading of the whole picture: a caption line replaces the
    /// plain words its box overlaps when it `replaces` them, or, read in another script, `readsBetter` than they
    /// do; the plain reading's other lines stay where they score over nothing (mostly doubtful words are texture
    /// read as letters). Lines are ordered by row, then left to right.
    static func merged(_ captions: [RecognizedWord], into plain: [RecognizedWord]) -> [RecognizedWord] {
        var lines = TextReader.lines(plain).filter { Recognition.score($0) > 0 }
        for line in TextReader.lines(captions) {
            let box = TextReader.enclosing(line.map(\.box))
            let covered = lines.flatMap { $0.filter { overlap($0.box, box) } }
            guard line[0].script == nil ? replaces(line, covered) : readsBetter(line, than: covered) else { continue }
            lines = lines.map { $0.filter { !overlap($0.box, box) } }.filter { !$0.isEmpty }
            lines.append(line)
        }
        lines.sort { a, b in
            let (boxA, boxB) = (enclosing(a.map(\.box)), enclosing(b.map(\.box)))
            let shared = min(boxA.y + boxA.h, boxB.y + boxB.h) - max(boxA.y, boxB.y)
            return shared > min(boxA.h, boxB.h) / 2 ? boxA.x < boxB.x : boxA.y < boxB.y
        }
        return lines.flatMap { line in line.enumerated().map { n, word in
            var word = word
            word.lineStart = n == 0
            return word
        } }
    }

    /// Whether a caption line read alone replaces the plain reading's words in its place: it scores better
    /// (`Recognition.score`), with more dictionary words, or as many and `confident` (a line of a printed page
    /// read alone can come out in fragments of a few letters that score more than the word they replace).
    static func replaces(_ line: [RecognizedWord], _ plain: [RecognizedWord]) -> Bool {
        let (found, known) = (line.filter(\.inDictionary).count, plain.filter(\.inDictionary).count)
        return Recognition.score(line) > Recognition.score(plain) && (found > known || found == known && confident(line))
    }

    /// A reading's words split into its lines (`RecognizedWord.lineStart`).
    static func lines(_ words: [RecognizedWord]) -> [[RecognizedWord]] {
        var lines = [[RecognizedWord]]()
        for word in words {
            if word.lineStart || lines.isEmpty { lines.append([word]) } else { lines[lines.count - 1].append(word) }
        }
        return lines
    }

    /// The smallest box holding `boxes` (not empty).
    static func enclosing(_ boxes: [WordBox]) -> WordBox {
        let x0 = boxes.map(\.x).min()!, y0 = boxes.map(\.y).min()!
        let x1 = boxes.map { $0.x + $0.w }.max()!, y1 = boxes.map { $0.y + $0.h }.max()!
        return WordBox(x: x0, y: y0, w: x1 - x0, h: y1 - y0)
    }

    private func kept(_ recognition: Recognition) -> [RecognizedWord] {
        recognition.words.filter { $0.confidence >= minConfidence && $0.text.contains(where: { $0.isLetter || $0.isNumber }) }
    }

    private func result(_ words: [RecognizedWord]) -> TextResult {
        var text = ""
        for (n, word) in words.enumerated() {
            if n > 0 {
                if word.lineStart {
                    text += "\n"
                } else if word.spaceBefore {
                    text += " "
                }
            }
            text += word.text
        }
        let mean = TextReader.meanConfidence(words)
        return TextResult(text: text, confidence: (mean * 10).rounded() / 10,
                          words: words.map { Word(text: $0.text, confidence: $0.confidence, box: $0.box) })
    }
}

/// The languages gg-ocr reads with: fixed by --lang, or English first and a model per script (--lang auto).
struct OCRLanguages: Sendable {
    /// What every picture is read with first.
    let primary: String
    /// With --lang auto, the language sets tried on lines the primary language cannot read, one per script.
    let scripts: [String]
    /// The scripts left out because their traineddata is missing, for a warning.
    let missingScripts: String?

    /// One language set per script of the social media most read: each is the script's most used language,
    /// with a second where one model misses letters the other has.
    /// Vietnamese is not among them: its model reads English too, with marks English has not, and won English
    /// lines; read it with --lang vie+eng.
    static let autoScripts = ["rus+ukr", "ara+fas", "hin", "ben", "chi_sim", "chi_tra", "jpn", "kor", "tha"]

    /// The Unicode blocks of Han characters.
    static let han: [ClosedRange<UInt32>] = [0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF]

    /// The Unicode blocks of each script's letters (Han for jpn too, but for the compatibility ideographs:
    /// Japanese writes kanji beside kana).
    static let scriptLetters: [String: [ClosedRange<UInt32>]] = [
        "rus+ukr": [0x0400...0x052F],
        "ara+fas": [0x0600...0x06FF, 0x0750...0x077F, 0xFB50...0xFDFF, 0xFE70...0xFEFF],
        "hin": [0x0900...0x097F],
        "ben": [0x0980...0x09FF],
        "chi_sim": han,
        "chi_tra": han,
        "jpn": [0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xFF66...0xFF9F],
        "kor": [0x1100...0x11FF, 0x3130...0x318F, 0xAC00...0xD7AF],
        "tha": [0x0E00...0x0E7F],
    ]

    /// Whether a reading is text of `script`: most of its letters are of the script's blocks. The models of
    /// other scripts know Latin letters and digits too, and read English captions they cannot tell from their
    /// own ("TOP:FIVE TRAVEL TIPS" in Japanese, "ER ENDS" in Chinese).
    static func isWritten(in script: String, _ words: [RecognizedWord]) -> Bool {
        guard let blocks = scriptLetters[script] else { return true }
        var own = 0, letters = 0
        for scalar in words.flatMap(\.text.unicodeScalars) where scalar.properties.isAlphabetic {
            letters += 1
            if blocks.contains(where: { $0.contains(scalar.value) }) { own += 1 }
        }
        return own * 2 > letters
    }

    /// Tesseract's orientation and script detection model.
    static let scriptDetection = "osd"

    /// The language sets to try for a script OSD names (Tesseract's script names); none for Latin and the
    /// scripts gg does not read.
    static func family(of script: String) -> [String] {
        switch script {
        case "Cyrillic": return ["rus+ukr"]
        case "Arabic": return ["ara+fas"]
        case "Devanagari": return ["hin"]
        case "Bengali": return ["ben"]
        case "Thai": return ["tha"]
        case "Han", "Japanese", "Katakana", "Hiragana", "Korean", "Hangul": return ["chi_sim", "chi_tra", "jpn", "kor"]
        default: return []
        }
    }

    /// Whether OSD's traineddata is there and other scripts are read, for `TextReader.readInDetectedScript`.
    let detectsScript: Bool
    /// Whether OSD's traineddata is there, to turn pictures of turned text upright.
    let detectsOrientation: Bool

    init(_ requested: String, dataPath: String?) {
        detectsOrientation = TextReader.missingLanguage(OCRLanguages.scriptDetection, dataPath: dataPath) == nil
        guard requested == "auto" else {
            (primary, scripts, missingScripts, detectsScript) = (requested, [], nil, false)
            return
        }
        primary = "eng"
        let present = OCRLanguages.autoScripts.filter { TextReader.missingLanguage($0, dataPath: dataPath) == nil }
        scripts = present
        detectsScript = !present.isEmpty && TextReader.missingLanguage(OCRLanguages.scriptDetection, dataPath: dataPath) == nil
        var missing = OCRLanguages.autoScripts.filter { !present.contains($0) }
        if !present.isEmpty, !detectsScript { missing.append(OCRLanguages.scriptDetection) }
        missingScripts = missing.isEmpty ? nil : missing.joined(separator: ", ")
    }
}
