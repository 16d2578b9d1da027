import CTesseract
import Foundation
import GGShared

/// An owned leptonica picture.
final class Picture {
    let pointer: UnsafeMutablePointer<PIX>

    init(_ pointer: UnsafeMutablePointer<PIX>) { self.pointer = pointer }

    deinit { gg_pix_destroy(pointer) }

    var width: Int { Int(gg_pix_width(pointer)) }
    var height: Int { Int(gg_pix_height(pointer)) }

    /// Reads an image after checking its header against the pixel limit.
    static func read(path: String) throws -> Picture {
        var format: Int32 = 0, w: Int32 = 0, h: Int32 = 0, bps: Int32 = 0, spp: Int32 = 0, cmap: Int32 = 0
        guard pixReadHeader(path, &format, &w, &h, &bps, &spp, &cmap) == 0, w > 0, h > 0 else {
            throw GGError("unreadable_image", "cannot read image header of \(path)")
        }
        try MediaLimits.checkPicture(width: w, height: h)
        guard w <= 65535, h <= 65535 else { throw GGError("too_many_pixels", "\(w)x\(h) pictures are larger than Leptonica reads") }
        guard let pix = pixRead(path) else { throw GGError("unreadable_image", "cannot decode image \(path)") }
        return Picture(pix)
    }

    func gray() throws -> Picture {
        guard let converted = pixConvertTo8(pointer, 0) else { throw GGError("unreadable_image", "cannot convert image to grayscale") }
        return Picture(converted)
    }

    /// The picture turned clockwise by `quarterTurns` quarter turns.
    func rotated(quarterTurns: Int) throws -> Picture {
        guard let turned = pixRotateOrth(pointer, Int32(quarterTurns % 4)) else { throw GGError("internal", "cannot rotate image") }
        return Picture(turned)
    }

    func scaled(_ factor: Double) throws -> Picture {
        guard let scaled = pixScale(pointer, Float(factor), Float(factor)) else { throw GGError("internal", "cannot scale image") }
        return Picture(scaled)
    }
}

/// A word as Tesseract read it, in original image coordinates.
struct RecognizedWord {
    var text: String
    var confidence: Double
    var box: WordBox
    var lineStart: Bool
    /// Tesseract's line text has a space before this word: scripts written without spaces between words
    /// (Han, kana, Thai) come out of the word iterator a character or syllable at a time.
    var spaceBefore = true
    /// The word is in the language's dictionary.
    var inDictionary = false
    /// The language set of the script whose model read the word's line, when not the primary language.
    var script: String?
}

/// A word read with a confidence: what `Recognition.score` weighs.
protocol ScoredWord {
    var text: String { get }
    var confidence: Double { get }
}

extension RecognizedWord: ScoredWord {}
extension Word: ScoredWord {}

/// One recognition pass's words.
struct Recognition {
    var words: [RecognizedWord]
    /// The pass was stopped at the picture's budget, not finished.
    var stoppedAtBudget = false

    /// Prefers readings with more confidently read characters; doubtful words count against.
    static func score(_ words: [some ScoredWord]) -> Double {
        words.reduce(0) { $0 + ($1.confidence - settings.passes.doubtfulConfidence) * Double($1.text.count) }
    }
}

/// What the progress monitor stops a pass on: the record's cancellation word, or the words the picture's budget
/// has left. Tesseract asks before each word it recognises, so `words` counts them.
private struct StopCondition {
    var flag: UnsafePointer<Int32>?
    var wordLimit = Int.max
    var words = 0
}

/// One picture's budget, in CPU seconds estimated from the work done, never measured: each reading costs
/// `Passes.megapixelSeconds` per megapixel it is given and `Passes.wordSeconds` per word Tesseract recognises
/// (its cancel hook counts them). A picture reads the same on a busy machine as on a quiet one.
final class WorkBudget {
    let allowance: Double
    private(set) var spent = 0.0

    init(allowance: Double) { self.allowance = allowance }

    func charge(_ seconds: Double) { spent += seconds }

    /// The words a reading may still recognise.
    var wordsLeft: Int { max(0, Int(((allowance - spent) / settings.passes.wordSeconds).rounded(.down))) }
}

/// The Tesseract engines of one worker, one per language set, each loaded when first needed, and the
/// process's engines for other scripts, which all workers share.
final class TesseractShelf {
    private var engines = [String: TesseractEngine]()
    private let dataPath: String?
    private let scripts: ScriptEngines

    init(dataPath: String?, scripts: ScriptEngines) {
        self.dataPath = dataPath
        self.scripts = scripts
    }

    func engine(_ languages: String) throws -> TesseractEngine {
        if let loaded = engines[languages] { return loaded }
        let engine = try TesseractEngine(language: languages, dataPath: dataPath)
        engines[languages] = engine
        return engine
    }

    /// Lends the process's engine for a script's languages, loading it on first use.
    func withScript<T>(_ languages: String, _ body: (TesseractEngine) throws -> T) throws -> T {
        try scripts.pool(languages).with(body)
    }
}

/// One engine per script's language set for the whole process: other scripts are read seldom, and a model
/// such as chi_sim takes 0.15 CPU s to load, so workers take turns with one rather than each load their own.
final class ScriptEngines: @unchecked Sendable {
    private let lock = NSLock()
    private var pools = [String: ResourcePool<TesseractEngine>]()
    private let dataPath: String?

    init(dataPath: String?) { self.dataPath = dataPath }

    func pool(_ languages: String) -> ResourcePool<TesseractEngine> {
        lock.lock()
        defer { lock.unlock() }
        if let pool = pools[languages] { return pool }
        let dataPath = dataPath
        let pool = ResourcePool(size: 1) { try TesseractEngine(language: languages, dataPath: dataPath) }
        pools[languages] = pool
        return pool
    }
}

/// An owned TessBaseAPI handle, initialised once and reused across images, with a progress monitor
/// through which a cancelled record, or a pass past its picture's budget, stops Tesseract mid-page.
final class TesseractEngine {
    private let handle: OpaquePointer
    private let monitor: OpaquePointer
    private let stop = UnsafeMutablePointer<StopCondition>.allocate(capacity: 1)

    init(language: String, dataPath: String?) throws {
        guard let handle = TessBaseAPICreate() else { throw GGError("internal", "cannot create tesseract handle") }
        self.handle = handle
        guard TessBaseAPIInit3(handle, dataPath, language) == 0 else {
            TessBaseAPIDelete(handle)
            throw GGError("language_unavailable", "tesseract cannot load language '\(language)'")
        }
        _ = TessBaseAPISetVariable(handle, "debug_file", "/dev/null")
        guard let monitor = TessMonitorCreate() else {
            TessBaseAPIEnd(handle)
            TessBaseAPIDelete(handle)
            throw GGError("internal", "cannot create a tesseract monitor")
        }
        self.monitor = monitor
        stop.initialize(to: StopCondition())
        TessMonitorSetCancelFunc(monitor) { condition, _ in
            guard let stop = condition?.assumingMemoryBound(to: StopCondition.self) else { return false }
            stop.pointee.words += 1
            return (stop.pointee.flag?.pointee ?? 0) != 0 || stop.pointee.words > stop.pointee.wordLimit
        }
    }

    deinit {
        stop.deallocate()
        TessMonitorDelete(monitor)
        TessBaseAPIEnd(handle)
        TessBaseAPIDelete(handle)
    }

    private func utf8Text(_ iterator: OpaquePointer, _ level: TessPageIteratorLevel) -> String {
        guard let raw = TessResultIteratorGetUTF8Text(iterator, level) else { return "" }
        defer { TessDeleteText(raw) }
        return String(cString: raw)
    }

    /// The script Tesseract's OSD model finds in a picture (its names: Latin, Cyrillic, Han, ...), or nil when
    /// the picture has too few glyph-like blobs to tell. The engine must be loaded with "osd".
    func detectScript(_ picture: Picture) -> String? { detectLayout(picture, minGlyphs: settings.scripts.detectionGlyphs)?.script }

    /// The clockwise quarter turns that set a picture's text upright, with OSD's confidence in them, and its
    /// script; nil when the picture has fewer than `minGlyphs` glyph-like blobs. The engine must be loaded with "osd".
    func detectLayout(_ picture: Picture, minGlyphs: Int) -> (quarterTurns: Int, confidence: Double, script: String)? {
        TessBaseAPISetPageSegMode(handle, PSM_OSD_ONLY)
        _ = TessBaseAPISetVariable(handle, "min_characters_to_try", "\(minGlyphs)")
        TessBaseAPISetImage2(handle, picture.pointer)
        TessBaseAPISetSourceResolution(handle, settings.passes.sourceResolution)
        defer { TessBaseAPIClear(handle) }
        var degrees: Int32 = 0
        var orientationConfidence: Float = 0, scriptConfidence: Float = 0
        var name: UnsafePointer<CChar>?
        guard TessBaseAPIDetectOrientationScript(handle, &degrees, &orientationConfidence, &name, &scriptConfidence) != 0,
              let name else { return nil }
        return ((4 - Int(degrees) / 90 % 4) % 4, Double(orientationConfidence), String(cString: name))
    }

    static var version: String { "tesseract \(String(cString: TessVersion()))" }

    static var leptonicaVersion: String {
        guard let text = getLeptonicaVersion() else { return "leptonica" }
        defer { free(text) }
        return String(cString: text)
    }

    /// The words of one pass, charged to `budget`; stops early, with a `timeout`/`interrupted` error, once
    /// `cancellation` fires, and with no words and `stoppedAtBudget` at a word past the budget (never when
    /// `stops` is false).
    /// Boxes are given in the coordinates of the picture this one was cut from at `origin` and enlarged by `scale`.
    /// `region`, in the picture's pixels, limits the reading to that rectangle. Tesseract is told the picture has
    /// `Passes.sourceResolution` unless `estimatesResolution`, where it estimates it from the text as its CLI does.
    func recognize(_ picture: Picture, mode: TessPageSegMode, scale: Double, origin: (x: Int, y: Int) = (0, 0), region: WordBox? = nil,
                   estimatesResolution: Bool = false, cancellation: Cancellation, budget: WorkBudget? = nil, stops: Bool = true) throws -> Recognition {
        try cancellation.check()
        TessBaseAPISetPageSegMode(handle, mode)
        TessBaseAPISetImage2(handle, picture.pointer)
        if !estimatesResolution { TessBaseAPISetSourceResolution(handle, settings.passes.sourceResolution) }
        if let region { TessBaseAPISetRectangle(handle, Int32(region.x), Int32(region.y), Int32(region.w), Int32(region.h)) }
        defer { TessBaseAPIClear(handle) }
        let pixels = region.map { $0.w * $0.h } ?? picture.width * picture.height
        budget?.charge(Double(pixels) / 1e6 * settings.passes.megapixelSeconds)
        stop.pointee = StopCondition(flag: cancellation.flag, wordLimit: stops ? budget?.wordsLeft ?? .max : .max)
        TessMonitorSetCancelThis(monitor, UnsafeMutableRawPointer(stop))
        defer { TessMonitorSetCancelThis(monitor, nil) }
        let status = TessBaseAPIRecognize(handle, monitor)
        try cancellation.check()
        budget?.charge(Double(min(stop.pointee.words, stop.pointee.wordLimit)) * settings.passes.wordSeconds)
        if stop.pointee.words > stop.pointee.wordLimit { return Recognition(words: [], stoppedAtBudget: true) }
        guard status == 0, let iterator = TessBaseAPIGetIterator(handle) else { return Recognition(words: []) }
        defer { TessResultIteratorDelete(iterator) }
        var words = [RecognizedWord]()
        let page = TessResultIteratorGetPageIterator(iterator)
        var line = LineSpacing(text: "")
        repeat {
            let lineStart = TessPageIteratorIsAtBeginningOf(page, RIL_TEXTLINE) != 0
            if lineStart { line = LineSpacing(text: utf8Text(iterator, RIL_TEXTLINE)) }
            let text = utf8Text(iterator, RIL_WORD).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            var left: Int32 = 0, top: Int32 = 0, right: Int32 = 0, bottom: Int32 = 0
            _ = TessPageIteratorBoundingBox(page, RIL_WORD, &left, &top, &right, &bottom)
            let box = WordBox(x: origin.x + Int(Double(left) / scale), y: origin.y + Int(Double(top) / scale),
                          w: Int(Double(right - left) / scale), h: Int(Double(bottom - top) / scale))
            let confidence = Double(TessResultIteratorConfidence(iterator, RIL_WORD))
            words.append(RecognizedWord(text: text, confidence: (confidence * 10).rounded() / 10, box: box, lineStart: lineStart,
                                        spaceBefore: line.spaceBefore(text), inDictionary: TessResultIteratorWordIsFromDictionary(iterator) != 0))
        } while TessResultIteratorNext(iterator, RIL_WORD) != 0
        return Recognition(words: words)
    }
}

/// Walks the text of one line as Tesseract wrote it, to tell which of its words follow a space.
struct LineSpacing {
    private let scalars: [Unicode.Scalar]
    private var cursor = 0

    init(text: String) { scalars = Array(text.unicodeScalars) }

    /// Whether whitespace comes before `word`, the line's next word; true where the line's text does not hold it.
    mutating func spaceBefore(_ word: String) -> Bool {
        var spaced = false
        while cursor < scalars.count, scalars[cursor].properties.isWhitespace {
            spaced = true
            cursor += 1
        }
        let wanted = Array(word.unicodeScalars)
        guard cursor + wanted.count <= scalars.count, Array(scalars[cursor..<cursor + wanted.count]) == wanted else { return true }
        cursor += wanted.count
        return spaced || cursor == wanted.count
    }
}
