import XCTest
@testable import GGOCR
import GGShared

/// The caption-line finder on bitmaps drawn in memory (no Tesseract reading).
final class OCRUnitTests: XCTestCase {
    /// A white picture with dark ring-shaped glyphs (`glyphs` as (x, top, width, height)), 3 px strokes.
    static func page(width: Int = 480, height: Int = 240, glyphs: [(Int, Int, Int, Int)]) -> GrayImage {
        var image = GrayImage(width: width, height: height, bytes: [UInt8](repeating: 250, count: width * height))
        for (x0, y0, w, h) in glyphs {
            for y in y0..<(y0 + h) {
                for x in x0..<(x0 + w) where x < x0 + 3 || x >= x0 + w - 3 || y < y0 + 3 || y >= y0 + h - 3 {
                    image.bytes[y * width + x] = 20
                }
            }
        }
        return image
    }

    func testRowOfGlyphsIsOneLine() {
        let glyphs = (0..<8).map { (20 + $0 * 30, 100, 22, 30) }
        let lines = CaptionLines.lines(in: BlobMap(Self.page(glyphs: glyphs), inside: 0...70), imageHeight: 240)
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(lines.first?.glyphs.count, 8)
        XCTAssertEqual(lines.first?.baseline, 129)
    }

    func testGlyphReachingBelowTheBaselineStaysInItsLine() throws {
        var glyphs = (0..<8).map { (20 + $0 * 30, 100, 22, 30) }
        glyphs[0] = (20, 100, 22, 42)
        let map = BlobMap(Self.page(glyphs: glyphs), inside: 0...70)
        let line = try XCTUnwrap(CaptionLines.lines(in: map, imageHeight: 240).first)
        XCTAssertEqual(line.minX, 20, "the descending first glyph (a J, a Q) starts the line")
        XCTAssertEqual(line.baseline, 129, "the baseline is the row's, not the descender's")
    }

    func testTwoRowsAreTwoLinesAndScatteredBlobsNone() {
        let rows = (0..<6).map { (20 + $0 * 30, 40, 22, 30) } + (0..<5).map { (20 + $0 * 30, 150, 22, 30) }
        XCTAssertEqual(CaptionLines.lines(in: BlobMap(Self.page(glyphs: rows), inside: 0...70), imageHeight: 240).count, 2)
        let scattered = [(20, 10, 22, 30), (200, 90, 22, 30), (400, 190, 22, 30)]
        XCTAssertEqual(CaptionLines.lines(in: BlobMap(Self.page(glyphs: scattered), inside: 0...70), imageHeight: 240).count, 0)
    }

    /// A word of a reading: `text` read at `confidence`, at (x, y) 20 px tall, 12 px a letter.
    static func word(_ text: String, _ confidence: Double, x: Int, y: Int, lineStart: Bool = false, dictionary: Bool = true) -> RecognizedWord {
        RecognizedWord(text: text, confidence: confidence, box: WordBox(x: x, y: y, w: 12 * text.count, h: 20), lineStart: lineStart,
                       inDictionary: dictionary)
    }

    func testCaptionLineWithMoreDictionaryWordsReplacesThePlainWordsInItsPlace() {
        let plain = [Self.word("SUBSCRIBE", 96, x: 100, y: 300, lineStart: true), Self.word("00:00", 90, x: 10, y: 10, lineStart: true)]
        let line = [Self.word("SUBSCRIBE", 96, x: 100, y: 300, lineStart: true), Self.word("FOR", 93, x: 220, y: 300),
                    Self.word("MORE", 94, x: 270, y: 300)]
        let merged = TextReader.merged(line, into: plain)
        XCTAssertEqual(merged.map(\.text), ["00:00", "SUBSCRIBE", "FOR", "MORE"], "the clock above stays, rows in order")
        XCTAssertEqual(merged.map(\.lineStart), [true, true, false, false])
    }

    func testFragmentsOfALineDoNotReplaceAPlainWordThatScoresLess() {
        let plain = [Self.word("Let", 95, x: 10, y: 50, lineStart: true), Self.word("us", 95, x: 60, y: 50),
                     Self.word("determine", 70, x: 100, y: 50)]
        let fragments = [Self.word("d", 90, x: 100, y: 50, lineStart: true, dictionary: false), Self.word("temne", 85, x: 130, y: 50, dictionary: false),
                         Self.word("mark", 90, x: 200, y: 50)]
        XCTAssertGreaterThan(Recognition.score(fragments), Recognition.score([plain[2]]), "scores more, yet")
        XCTAssertEqual(TextReader.merged(fragments, into: plain).map(\.text), ["Let", "us", "determine"])
    }

    func testPlainLinesOfDoubtfulWordsAreDropped() {
        let plain = [Self.word("aR", 45, x: 10, y: 10, lineStart: true, dictionary: false), Self.word("wae", 52, x: 60, y: 10, dictionary: false),
                     Self.word("Open", 91, x: 10, y: 200, lineStart: true)]
        XCTAssertEqual(TextReader.merged([], into: plain).map(\.text), ["Open"])
    }
}
