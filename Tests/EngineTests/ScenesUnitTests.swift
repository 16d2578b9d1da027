import XCTest
@testable import GGScenes

/// The cut detector on synthetic frames: pictures drawn in memory, no media decoded.
final class ScenesUnitTests: XCTestCase {
    static let width = 160, height = 90, fps = 25.0

    /// An analysed frame of a picture whose pixel (x, y) has the colour `rgb(x, y)`.
    static func frame(_ index: Int, _ rgb: (Int, Int) -> (UInt8, UInt8, UInt8)) -> AnalysedFrame {
        var packed = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = rgb(x, y)
                packed[(y * width + x) * 3] = r
                packed[(y * width + x) * 3 + 1] = g
                packed[(y * width + x) * 3 + 2] = b
            }
        }
        var hsv = [UInt8]()
        let mean = packed.withUnsafeBufferPointer { rgbToHSV($0.baseAddress!, width: width, height: height, stride: width * 3, into: &hsv) }
        return AnalysedFrame(index: index, time: Double(index) / fps, hsv: hsv, meanValue: mean, score: 0, payload: nil, width: width)
    }

    /// Times of the cuts the default detector finds in `count` frames drawn by `picture(frame, x, y)`.
    static func cuts(frames count: Int, settings: DetectorSettings = DetectorSettings(),
                     _ picture: @escaping (Int, Int, Int) -> (UInt8, UInt8, UInt8)) -> [Double] {
        var detector = CutDetector(settings: settings)
        var decisions = [CutDetector.Decision]()
        for i in 0..<count { decisions += detector.push(frame(i) { picture(i, $0, $1) }) }
        decisions += detector.finish()
        return decisions.filter(\.cut).map(\.frame.time)
    }

    static func grey(_ level: Int) -> (UInt8, UInt8, UInt8) { (UInt8(level), UInt8(level), UInt8(level)) }

    /// A white caption bar with dark letters in the lower fifth, the same in every frame.
    static func caption(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8)? {
        guard y >= 70, y < 80, x >= 30, x < 130 else { return nil }
        return (x / 3 + y) % 4 == 0 ? grey(20) : grey(235)
    }

    /// Deterministic noise in -amplitude...amplitude for a pixel of a frame, like film grain.
    static func grain(_ i: Int, _ x: Int, _ y: Int, amplitude: Int) -> Int {
        var h = UInt32(truncatingIfNeeded: i &* 73_856_093 ^ x &* 19_349_663 ^ y &* 83_492_791)
        h ^= h >> 13; h = h &* 0x5bd1e995; h ^= h >> 15
        return Int(h % UInt32(2 * amplitude + 1)) - amplitude
    }

    func testHardCutBetweenTwoPicturesIsFoundOnItsFrame() {
        let found = Self.cuts(frames: 75) { i, x, y in
            i < 40 ? (UInt8(x), UInt8(y * 2), 90) : (200, UInt8(255 - x), UInt8(y))
        }
        XCTAssertEqual(found, [40 / Self.fps])
    }

    /// A cut whose first frame is lighter than the grainy shot after it changes the picture in two steps, neither
    /// three times its neighbours' mean: the two-frame test finds it on its frame; without it, another test cuts
    /// the grainy shot frames later.
    func testCutSpreadOverTwoFramesIsFoundByTheTwoFrameTest() {
        let picture: (Int, Int, Int) -> (UInt8, UInt8, UInt8) = { i, x, y in
            if i < 40 { return (191, 160, 106) }
            let lift = i == 40 ? 60 : 0, noise = Self.grain(i, x, y, amplitude: 40)
            func level(_ base: Int) -> UInt8 { UInt8(clamping: base + lift + noise) }
            return (level(40), level(30), level(20))
        }
        XCTAssertEqual(Self.cuts(frames: 75, picture), [40 / Self.fps])
        var without = DetectorSettings()
        without.rules.remove(.twoFrame)
        XCTAssertFalse(Self.cuts(frames: 75, settings: without, picture).contains(40 / Self.fps))
    }

    func testCutBetweenTwoGreysTenLevelsApartUnderOneCaptionIsFound() {
        for (a, b) in [(0x60, 0x6a), (0x50, 0x5a), (0x70, 0x66)] {
            let found = Self.cuts(frames: 75) { i, x, y in
                Self.caption(x, y) ?? Self.grey((i < 40 ? a : b) + Self.grain(i, x, y, amplitude: 1))
            }
            XCTAssertEqual(found, [40 / Self.fps], "greys \(a) and \(b)")
        }
    }

    func testSlowlyRotatingTwoColourGradientIsOneScene() {
        let found = Self.cuts(frames: 250) { i, x, y in
            let angle = Double(i) / Self.fps * 0.6
            let dx = Double(x - Self.width / 2), dy = Double(y - Self.height / 2)
            let t = max(0, min(1, 0.5 + (dx * cos(angle) + dy * sin(angle)) / 120))
            return (UInt8(230 * t + 20 * (1 - t)), UInt8(60 * t + 180 * (1 - t)), UInt8(40 * t + 220 * (1 - t)))
        }
        XCTAssertEqual(found, [])
    }

    func testLightRampInStepsUnderOneCaptionIsOneScene() {
        let found = Self.cuts(frames: 150) { i, x, y in
            Self.caption(x, y) ?? Self.grey(60 + 8 * (i / 12))
        }
        XCTAssertEqual(found, [])
    }

    func testRedWhoseHueDriftsAcrossZeroIsOneScene() {
        let found = Self.cuts(frames: 100) { i, x, y in
            let blue = UInt8(max(0, 40 - i)), green = UInt8(max(0, i - 60))
            return Self.caption(x, y) ?? (200, green, blue)
        }
        XCTAssertEqual(found, [])
    }

    func testWhiteFlashOfTwoFramesIsNoCut() {
        let found = Self.cuts(frames: 75) { i, x, y in
            (30...31).contains(i) ? Self.grey(255) : (UInt8(x), UInt8(y * 2), 90)
        }
        XCTAssertEqual(found, [])
    }

    func testDissolveIsOneCutInsideIt() {
        let found = Self.cuts(frames: 100) { i, x, y in
            let t = max(0, min(1, Double(i - 40) / 20))
            let a = (Double(x), Double(y * 2), 90.0), b = (200.0, Double(255 - x), Double(y))
            return (UInt8(a.0 * (1 - t) + b.0 * t), UInt8(a.1 * (1 - t) + b.1 * t), UInt8(a.2 * (1 - t) + b.2 * t))
        }
        XCTAssertEqual(found.count, 1)
        XCTAssert(found.allSatisfy { (40 / Self.fps)...(61 / Self.fps) ~= $0 }, "\(found)")
    }

    func testSettingsListingHasEveryStoredSettingOnce() {
        var settings = DetectorSettings()
        settings.rules.remove(.sweep)
        let lines = settings.listing.split(separator: "\n").map(String.init)
        let names = lines.map { $0.components(separatedBy: " = ")[0] }
        XCTAssertEqual(Set(names).count, names.count, "no setting listed twice")
        for child in Mirror(reflecting: settings).children { XCTAssertTrue(names.contains(child.label ?? "?"), child.label ?? "?") }
        XCTAssertTrue(lines.contains("dissolveRise = 0.5"))
        XCTAssertTrue(lines.contains("rules = dissolve,faint,flash,replacement,title-card,two-frame,wipe"))
    }
}
