import XCTest
@testable import GGOCR

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
}
