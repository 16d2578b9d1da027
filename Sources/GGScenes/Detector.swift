import Foundation

/// A test of the cut detector that can be turned off (`--without-rules`), to measure what it is worth.
enum DetectorRule: String, CaseIterable, Sendable {
    case flash, faint, twoFrame = "two-frame", titleCard = "title-card", dissolve, wipe, replacement, sweep

    /// The rules' names, comma-separated, as `--without-rules` takes them.
    static let names = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Settings of the cut detector.
struct DetectorSettings: Sendable {
    enum Mode: String, Sendable { case content, adaptive }
    var mode: Mode = .adaptive
    var rules = Set(DetectorRule.allCases)
    var threshold: Double = 27
    var adaptiveThreshold: Double = 3
    var minContent: Double = 15
    var window = 2
    /// Longest flash, in frames, that is not a cut: a change that comes back to what it left within
    /// this many frames.
    var flashFrames = 4
    var minSceneLength: Double = 0.5
    /// Pictures on both sides of a flash closer than this (content difference) make it a flash, not a cut, or
    /// than `flashScoreShare` of the change (`faintFlashScoreShare` for a low-contrast cut).
    var flashSimilarity: Double { threshold / 2 }
    var flashScoreShare = 1.0 / 3
    var faintFlashScoreShare = 0.5
    /// How much farther apart the pictures `window` frames around a two-frame cut may be than the two frames'
    /// own change: cuts spread over two frames measured 1.00-1.09, the first steps of fast fades 1.26-1.58.
    var twoFrameGrowth = 1.2
    /// Frames the flash test compares after a change (at least two) and before it (at least three).
    var flashFramesAhead: Int { max(2, flashFrames) }
    var flashFramesBack: Int { max(3, flashFrames + 1) }
    /// Frames a decision looks ahead of the frame it decides.
    var lookahead: Int { max(window + 2, flashFrames) }
    var fadeLevel: Double = 12
    /// A low-contrast cut: a change of at least a quarter of `minContent`, though under it and under
    /// `lowContrast`, between frames that otherwise change little (neighbours changing less than
    /// `stillContent`, or than the change over `faintRatio`), such as between two similar greys under
    /// one caption, or from fine texture to a flat picture of the same mean.
    var faintContent: Double { minContent / 4 }
    /// A fainter change still cuts when it is spread over the picture: at least `faintSpread` of the
    /// pixels change by `faintPixelStep` or more (HSV steps summed), as when a whole background turns a
    /// shade lighter, and unlike a caption changing over a still picture, which changes a few pixels.
    var spreadFaintContent: Double { minContent / 8 }
    var faintSpread = 0.6
    /// Any low-contrast cut changes at least this share of the pixels by `faintPixelStep`: a caption popping up
    /// over a calm picture changes a content difference as large in a few of them.
    var faintLeastSpread = 0.3
    var faintPixelStep = 4
    var lowContrast: Double = 15
    var stillContent: Double = 0.5
    var faintRatio: Double = 4
    /// A low-contrast cut follows a steady `faintSteadySpan` seconds (or the last cut): the frame before it
    /// differs from the one that long before by at most `faintDrift` of the cut's change. A slow light or hue
    /// drift, which an encoder turns into small jumps over a flat picture, changed as much before.
    var faintSteadySpan = 1.0
    var faintDrift = 0.5
    /// A gradual transition over `gradualWindow` seconds, either
    /// - a dissolve: the picture changes by at least `gradualContent`, along a straight path (the
    ///   change over the window is at least `gradualStraightness` of the changes between
    ///   `gradualSteps` + 1 frames spread over it, few enough that grain does not add up) and smoothly
    ///   (each pixel's largest of those steps is at most `gradualSteepness` of its change over the
    ///   window, which tells a dissolve from motion, where a pixel changes at once); or
    /// - a wipe: a change of twice `gradualContent` along a straighter path, frame by frame (at least
    ///   `wipeStraightness`), with no frame carrying more than `wipeLargestStep` of it (a cut or a
    ///   flash carries all of it), that replaced the colours or changed the picture in place and stood out
    ///   from its own motion: faster than the window before (`dissolveRise`) or each pixel at once (the
    ///   steepness of `gradualSteps` + 1 frames at least `wipeSteepness`, as where an edge passes).
    var gradualWindow = 0.5
    var gradualContent: Double { minContent }
    /// A window holds at least `minGradualFrames` frames; its frames' steps add up to at least `stillPathShare` of
    /// `gradualContent` (still footage stops there); no frame within `fadeGuardWindows` windows is as dark as a fade's.
    var minGradualFrames = 5
    var stillPathShare = 0.5
    var fadeGuardWindows = 2.0
    /// A window ending less than `continuationSpan` after the last gradual one continues its transition.
    var continuationSpan: Double { gradualWindow / 2 }
    /// A gradual run starting within `sameTransitionWindows` windows of the end of the run that cut is the same
    /// transition; the jump ending a run that cut, within `transitionEndWindows` windows of its cut, is its last step.
    var sameTransitionWindows = 2.0
    var transitionEndWindows = 3.0
    var gradualStraightness = 0.6
    var gradualSteps = 3
    var gradualSteepness = 0.6
    /// A dissolve changes the picture at least 1 / `dissolveRise` times as much as the window before it did.
    var dissolveRise = 0.5
    /// A dissolve changes at least `dissolveHistogram` (0-1) of the colour histogram: a picture rotating or moving
    /// smoothly keeps its colours.
    var dissolveHistogram = 0.1
    var wipeStraightness = 0.85
    var wipeLargestStep = 0.25
    var wipeSteepness = 0.8
    /// Wipes and sweeps change the picture by `wipeContentFactor` times `gradualContent` over at least
    /// `minWipeFrames` frames; of those, the frames changing by `changingStepShare` of the mean step or more tell how.
    var wipeContentFactor = 2.0
    var minWipeFrames = 7
    var changingStepShare = 0.5
    /// - a replacement (an iris, a shape wipe, a wipe under grain or motion): the colour histogram
    ///   changes by at least `replacedHistogram` (0-1) over the window, no frame carrying more than
    ///   `replacedLargestStep` of it and at least `replacedSteps` frames `replacedSmallestStep` of it (a
    ///   cut or a flash is one or two steps), after a window in which the histogram and the picture
    ///   changed by at most `replacedSteadiness` of the window's change (an object crossing, a zoom or
    ///   changing gradients change as much all along), and not by moving: the frames of the window are
    ///   not shifted copies of each other (`MotionProbe`), as they are in a pan from rest to rest.
    var replacedHistogram = 0.4
    var replacedLargestStep = 0.65
    var replacedSmallestStep = 0.1
    var replacedSteps = 4
    var replacedSteadiness = 0.25
    /// A frame counts as moved where its best shift leaves less than this share of its change: the side a pan
    /// brings in also changes of itself.
    var movedShiftRatio = 0.9
    /// - a sweep (a radial or shaped wipe between pictures that change of themselves, as hue cycling or
    ///   flicker do, so that no window before it held still): over the window at least `sweptShare` of the
    ///   pixels change by `sweptLevel` or more (HSV steps summed), each at least half of it in one frame, in
    ///   frames spread over the window (none holding more than `sweptBusiestFrame` of those pixels, at least
    ///   `replacedSteps` a tenth), and not by moving (`MotionProbe`), as a fast pan's pixels do.
    var sweptShare = 0.5
    var sweptLevel = 40
    var sweptBusiestFrame = 0.35
    /// Frames of history the gradual test may reach back: two windows at up to 60 frames per second.
    static let historyFrames = 64
    /// Seconds within which two frame times are the same (times are sums of rounded steps).
    static let timeTolerance = 1e-6
}

extension DetectorSettings {
    /// Every setting, one `name = value` line each: the stored ones, then the fixed constants the tests share.
    var listing: String {
        var lines = Mirror(reflecting: self).children.compactMap { child in
            child.label.map { label in
                let value = (child.value as? Set<DetectorRule>).map { $0.map(\.rawValue).sorted().joined(separator: ",") } ?? "\(child.value)"
                return "\(label) = \(value)"
            }
        }
        lines += ["faintContent = \(faintContent)", "spreadFaintContent = \(spreadFaintContent)", "flashSimilarity = \(flashSimilarity)",
                  "flashFramesAhead = \(flashFramesAhead)", "flashFramesBack = \(flashFramesBack)", "lookahead = \(lookahead)",
                  "gradualContent = \(gradualContent)", "continuationSpan = \(continuationSpan)",
                  "historyFrames = \(DetectorSettings.historyFrames)", "timeTolerance = \(DetectorSettings.timeTolerance)",
                  "greyHueSaturation = \(greyHueSaturation)", "brightDetailFactor = \(brightDetailFactor)", "brightDetailShare = \(brightDetailShare)",
                  "titleCardBlackShare = \(titleCardBlackShare)", "titleCardChangeOverlap = \(titleCardChangeOverlap)",
                  "titleCardSteadyOverlap = \(titleCardSteadyOverlap)", "motionStillRatio = \(MotionProbe.stillRatio)",
                  "fadeOutReach = \(SceneBuilder.fadeOutReach)", "fadeBrightRun = \(SceneBuilder.fadeBrightRun)",
                  "undimmedFactor = \(SceneBuilder.undimmedFactor)", "keyframeSteadierBy = \(SceneBuilder.steadierBy)",
                  "truncationSeconds = \(SceneAnalyser.truncationSeconds)", "truncationFrames = \(SceneAnalyser.truncationFrames)",
                  "stretchWarmupSeconds = \(StretchPlan.warmupSeconds)", "stretchOverrunSeconds = \(StretchPlan.overrunSeconds)",
                  "minSplitSeconds = \(StretchPlan.minSplitSeconds)", "secondsPerStretch = \(StretchPlan.secondsPerStretch)",
                  "joinMargin = \(StretchPlan.joinMargin)", "maxUnindexedTail = \(StretchPlan.maxUnindexedTail)",
                  "maxUnindexedShare = \(StretchPlan.maxUnindexedShare)", "maxDecodeErrors = \(StretchPlan.maxDecodeErrors)",
                  "motionWidthReach = \(MotionProbe.widthReach)", "motionHeightReach = \(MotionProbe.heightReach)",
                  "motionSearchStep = \(MotionProbe.searchStep)", "motionMinSearchPixels = \(MotionProbe.minSearchPixels)",
                  "motionMinOverlapShare = \(MotionProbe.minOverlapShare)", "sweepOneFrameShare = \(Sweep.oneFrameShare)",
                  "sweepBusyFrameShare = \(Sweep.busyFrameShare)", "colourHueBins = \(ColourClasses.hueBins)",
                  "colourHueBinWidth = \(ColourClasses.hueBinWidth)", "colourBrightValue = \(ColourClasses.brightValue)",
                  "colourGreyLevelShift = \(ColourClasses.greyLevelShift)"]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// One analysed frame: a small HSV picture plus what the detector derived from it.
struct AnalysedFrame {
    var index: Int
    var time: Double
    var hsv: [UInt8]
    var meanValue: Double
    var score: Double
    var payload: AnyObject?
    /// Whether the frame ends a window of gradual change (set by the detector).
    var gradual = false
    /// Width of the HSV picture (0: unknown, and no motion probe).
    var width = 0

    /// Whether the frame is black as a fade's middle is: dark (mean value under `level`) *and* empty. A
    /// title card, dark but with bright text on it, is a picture: cuts between cards are found, and a
    /// card is no fade. (Computed from the picture only for frames that are dark on average.)
    func isDark(_ level: Double) -> Bool {
        meanValue < level && !hasBrightDetail(hsv, level: level)
    }
}

/// Whether at least `brightDetailShare` of an HSV picture's pixels are brighter than `brightDetailFactor`
/// times `level`: text or a lit object on black, which a fade (dimming the whole picture) does not keep.
func hasBrightDetail(_ hsv: [UInt8], level: Double) -> Bool {
    let n = hsv.count / 3
    guard n > 0 else { return false }
    let bright = UInt8(clamping: Int(level * brightDetailFactor))
    var count = 0
    hsv.withUnsafeBufferPointer { all in
        for i in (2 * n)..<(3 * n) where all[i] >= bright { count += 1 }
    }
    return Double(count) >= Double(n) * brightDetailShare
}

/// The bright pixels of a title card (bright detail, such as text, on an otherwise black picture: at least
/// `titleCardBlackShare` of the pixels under the fade level), or nil for any other picture.
func titleCardMask(_ hsv: [UInt8], level: Double) -> [Bool]? {
    let n = hsv.count / 3
    guard n > 0 else { return nil }
    let bright = UInt8(clamping: Int(level * brightDetailFactor)), black = UInt8(clamping: Int(level))
    var mask = [Bool](repeating: false, count: n)
    var brightCount = 0, blackCount = 0
    hsv.withUnsafeBufferPointer { all in
        for i in 0..<n {
            let v = all[2 * n + i]
            if v >= bright { mask[i] = true; brightCount += 1 } else if v < black { blackCount += 1 }
        }
    }
    guard Double(blackCount) >= Double(n) * titleCardBlackShare, Double(brightCount) >= Double(n) * brightDetailShare else { return nil }
    return mask
}

/// Intersection over union of two masks' set pixels.
func maskOverlap(_ a: [Bool], _ b: [Bool]) -> Double {
    guard a.count == b.count else { return 0 }
    var both = 0, either = 0
    for i in a.indices where a[i] || b[i] {
        either += 1
        if a[i] && b[i] { both += 1 }
    }
    return either == 0 ? 1 : Double(both) / Double(either)
}

/// Share of a title card's pixels that are black (under the fade level).
let titleCardBlackShare = 0.9
/// Two title cards whose text overlaps less than this are two scenes; the card after the change must
/// keep its text at least `titleCardSteadyOverlap` into the next frame (text being typed or animated does not cut).
let titleCardChangeOverlap = 0.5
let titleCardSteadyOverlap = 0.7

/// A pixel counts as bright detail on a dark frame at this many times the fade level (value 12: 60).
let brightDetailFactor = 5.0
/// The share of a dark frame's pixels that must be bright detail for it to be a picture, not a fade.
let brightDetailShare = 0.004

/// Saturation under which a pixel's hue is noise: greys whose chroma moves by one step under
/// compression or blending swing across the hue circle.
let greyHueSaturation = 24

/// Mean absolute HSV difference of two pictures, as PySceneDetect's content detector scores it,
/// except that hue counts only where both pixels have colour (saturation of `greyHueSaturation` or more).
func contentDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return 0 }
    let planeSize = a.count / 3
    var total = 0
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            for i in 0..<planeSize { total &+= pixelChange(pa, i, pb, i, planeSize: planeSize) }
        }
    }
    return Double(total) / Double(3 * planeSize)
}

/// The fraction of pixels whose change (`pixelChange`) is at least `step`.
func changedFraction(_ a: [UInt8], _ b: [UInt8], step: Int) -> Double {
    guard a.count == b.count, !a.isEmpty else { return 0 }
    let planeSize = a.count / 3
    var changed = 0
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            for i in 0..<planeSize where pixelChange(pa, i, pb, i, planeSize: planeSize) >= step { changed &+= 1 }
        }
    }
    return Double(changed) / Double(planeSize)
}

/// How much pixel `i` of planar HSV picture `a` and pixel `j` of `b` (planes of `planeSize` pixels
/// each) differ: their saturation and value steps, plus their hue steps around the hue circle (179 is next
/// to 0: a red drifting or flickering across it changes by a step, not by 179) where both have colour.
@inline(__always)
func pixelChange(_ a: UnsafeBufferPointer<UInt8>, _ i: Int, _ b: UnsafeBufferPointer<UInt8>, _ j: Int, planeSize: Int) -> Int {
    let sa = Int(a[planeSize &+ i]), sb = Int(b[planeSize &+ j])
    let change = abs(sa &- sb) &+ abs(Int(a[2 &* planeSize &+ i]) &- Int(b[2 &* planeSize &+ j]))
    guard min(sa, sb) >= greyHueSaturation else { return change }
    let hue = abs(Int(a[i]) &- Int(b[j]))
    return change &+ min(hue, 180 &- hue)
}

/// 65536 / n for n in 0...255 (0 for 0): divisions become multiplications in the HSV loop.
private let reciprocals: [Int] = (0..<256).map { $0 == 0 ? 0 : (65536 + $0 / 2) / $0 }

/// Converts packed RGB24 rows into planar H (0-179), S, V (0-255) like OpenCV's BGR2HSV
/// (to within one step of rounding); returns the mean V.
func rgbToHSV(_ rgb: UnsafePointer<UInt8>, width: Int, height: Int, stride: Int, into hsv: inout [UInt8]) -> Double {
    let n = width * height
    if hsv.count != 3 * n { hsv = [UInt8](repeating: 0, count: 3 * n) }
    var valueSum = 0
    reciprocals.withUnsafeBufferPointer { inverse in
        hsv.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                let row = rgb + y &* stride
                for x in 0..<width {
                    let r = Int(row[3 &* x]), g = Int(row[3 &* x &+ 1]), b = Int(row[3 &* x &+ 2])
                    let v = max(r, g, b)
                    let delta = v &- min(r, g, b)
                    let s = (255 &* delta &* inverse[v] &+ 32768) >> 16
                    var h = 0
                    if delta > 0 {
                        let scale = 60 &* inverse[delta]
                        if v == r {
                            h = ((g &- b) &* scale) >> 16
                        } else if v == g {
                            h = 120 &+ (((b &- r) &* scale) >> 16)
                        } else {
                            h = 240 &+ (((r &- g) &* scale) >> 16)
                        }
                        if h < 0 { h &+= 360 }
                    }
                    let i = y &* width &+ x
                    out[i] = UInt8(truncatingIfNeeded: min(h >> 1, 179))
                    out[n &+ i] = UInt8(truncatingIfNeeded: min(s, 255))
                    out[2 &* n &+ i] = UInt8(truncatingIfNeeded: v)
                    valueSum &+= v
                }
            }
        }
    }
    return Double(valueSum) / Double(max(n, 1))
}

/// Decides where scenes start. Frames go in one at a time; decisions come out in frame
/// order a few frames later, once the frames after them have been seen.
struct CutDetector {
    let settings: DetectorSettings
    private var frames: [AnalysedFrame] = []
    private var nextToDecide = 0
    private var memory: Memory
    /// `MotionProbe.shift` of frames in the history against the frame before each, by time.
    private var motionShifts: [Double: (ratio: Double, x: Double, y: Double)] = [:]
    private var seenAny = false
    private var lastGradualTime = -Double.infinity
    private var width = 0
    private var history: [(time: Double, hsv: [UInt8], score: Double, meanValue: Double, histogram: [Double])] = []

    /// What the detector remembers of the last cut it made: a detector given it continues after a join
    /// as the one pass over the video would.
    struct Memory: Sendable {
        var lastCutTime = 0.0
        var lastCutGradual = false
        /// The last frame of the run of gradual frames that last cut (see `isCut`).
        var cutRunEnd = -Double.infinity
    }

    /// A decided frame, whether a cut starts there, and the detector's memory once it was decided.
    typealias Decision = (frame: AnalysedFrame, cut: Bool, memory: Memory)

    init(settings: DetectorSettings, lastCutTime: Double = 0, continuing: Bool = false) {
        self.init(settings: settings, memory: Memory(lastCutTime: lastCutTime), continuing: continuing)
    }

    init(settings: DetectorSettings, memory: Memory, continuing: Bool) {
        self.settings = settings
        self.memory = memory
        seenAny = continuing
    }

    /// Adds a frame; returns the frames now decided, each with whether a cut starts there.
    mutating func push(_ frame: AnalysedFrame) -> [Decision] {
        var frame = frame
        if let previous = frames.last { frame.score = contentDifference(previous.hsv, frame.hsv) }
        let adaptive = settings.mode == .adaptive
        width = frame.width
        history.append((frame.time, frame.hsv, frame.score, frame.isDark(settings.fadeLevel) ? 0 : max(frame.meanValue, settings.fadeLevel),
                        adaptive ? colourHistogram(frame.hsv) : []))
        if history.count > DetectorSettings.historyFrames { history.removeFirst() }
        frame.gradual = adaptive && endsGradualChange(continuing: frame.time - lastGradualTime <= settings.continuationSpan + DetectorSettings.timeTolerance)
        if frame.gradual { lastGradualTime = frame.time }
        frames.append(frame)
        var decided = [Decision]()
        while frames.count - 1 - nextToDecide >= settings.lookahead {
            decided.append(decideNext())
        }
        return decided
    }

    /// Decides every remaining frame at end of stream.
    mutating func finish() -> [Decision] {
        var decided = [Decision]()
        while nextToDecide < frames.count { decided.append(decideNext()) }
        return decided
    }

    private mutating func decideNext() -> Decision {
        let p = nextToDecide
        let frame = frames[p]
        let cut = seenAny && isCut(at: p)
        if frame.gradual, cut || (p > 0 && frames[p - 1].time == memory.cutRunEnd) { memory.cutRunEnd = frame.time }
        seenAny = true
        if cut {
            memory.lastCutTime = frame.time
            memory.lastCutGradual = frame.gradual
        }
        nextToDecide += 1
        let keep = settings.lookahead + 2
        if nextToDecide > keep {
            frames.removeFirst(nextToDecide - keep)
            nextToDecide = keep
        }
        return (frame, cut, memory)
    }

    private func isCut(at p: Int) -> Bool {
        guard p > 0 else { return false }
        let frame = frames[p]
        guard frame.time - memory.lastCutTime >= settings.minSceneLength else { return false }
        let dark = settings.fadeLevel
        if frame.isDark(dark) || frames[p - 1].isDark(dark) { return false }
        if frame.gradual && !frames[p - 1].gradual {
            // A run this soon after the one that cut is the same long transition, which two tests passed in turn.
            if frame.time - memory.cutRunEnd <= settings.sameTransitionWindows * settings.gradualWindow { return false }
            return !frames[(p + 1)...].contains { $0.isDark(dark) }
        }
        // From one title card (text on black) to another: a cut where the text changes and then holds,
        // however little of the picture that is.
        if settings.rules.contains(.titleCard), let before = titleCardMask(frames[p - 1].hsv, level: dark),
           let card = titleCardMask(frame.hsv, level: dark) {
            guard maskOverlap(before, card) < titleCardChangeOverlap else { return false }
            guard p + 1 < frames.count else { return true }
            return titleCardMask(frames[p + 1].hsv, level: dark).map { maskOverlap(card, $0) >= titleCardSteadyOverlap } ?? false
        }
        // The jump where a gradual run that already cut ends is the transition's last step, not a new scene.
        if frames[p - 1].gradual && !frame.gradual && memory.lastCutGradual
            && frame.time - memory.lastCutTime <= settings.transitionEndWindows * settings.gradualWindow { return false }
        var faint = false
        var change = frame.score
        switch settings.mode {
        case .content:
            guard frame.score >= settings.threshold else { return false }
        case .adaptive:
            let lo = max(1, p - settings.window)
            let hi = min(frames.count - 1, p + settings.window)
            let neighbours = (lo...hi).filter { $0 != p }.map { frames[$0].score }
            let average = neighbours.isEmpty ? 0 : neighbours.reduce(0, +) / Double(neighbours.count)
            if frame.score < settings.minContent {
                guard settings.rules.contains(.faint) else { return false }
                let calm = max(settings.stillContent, frame.score / settings.faintRatio)
                guard frame.score < settings.lowContrast, frame.score >= settings.spreadFaintContent, neighbours.count >= 2,
                      neighbours.allSatisfy({ $0 < calm }) else { return false }
                let spread = changedFraction(frames[p - 1].hsv, frame.hsv, step: settings.faintPixelStep)
                if spread < (frame.score < settings.faintContent ? settings.faintSpread : settings.faintLeastSpread) { return false }
                guard steadyBefore(frames[p - 1], change: frame.score) else { return false }
                faint = true
            }
            let ratio = average > 0 ? frame.score / average : (frame.score > 0 ? 255 : 0)
            if ratio < settings.adaptiveThreshold && !(neighbours.count < 2 && frame.score >= settings.threshold) {
                guard !faint, let spread = twoFrameChange(at: p) else { return false }
                change = spread
            }
        }
        guard settings.rules.contains(.flash) else { return true }
        let similar = faint ? change * settings.faintFlashScoreShare : max(settings.flashSimilarity, change * settings.flashScoreShare)
        for ahead in 1...settings.flashFramesAhead where p + ahead < frames.count {
            if contentDifference(frames[p - 1].hsv, frames[p + ahead].hsv) < similar { return false }
        }
        for back in 2...settings.flashFramesBack where p - back >= 0 {
            if contentDifference(frames[p - back].hsv, frame.hsv) < similar { return false }
        }
        return true
    }

    /// A cut spread over two frames (a blended or half-drawn frame between two shots, each step too close to
    /// the other to stand out alone): the change from the frame before `p` to the one after it, when it is
    /// `adaptiveThreshold` times the two-frame changes around that do not overlap it and is over in those two
    /// frames: the pictures `window` frames further on either side are at most `twoFrameGrowth` times as far apart
    /// (the steps of a fast fade go on growing).
    private func twoFrameChange(at p: Int) -> Double? {
        guard settings.rules.contains(.twoFrame), p >= 1, p + 1 < frames.count, frames[p].score >= settings.minContent,
              frames[p + 1].score >= settings.minContent else { return nil }
        let change = contentDifference(frames[p - 1].hsv, frames[p + 1].hsv)
        let reach = 1...settings.window
        let offsets: [Int] = reach.map { p - 1 - $0 } + reach.map { p + 1 + $0 }
        let around: [Double] = offsets.filter { $0 >= 1 && $0 + 1 < frames.count }
            .map { contentDifference(frames[$0 - 1].hsv, frames[$0 + 1].hsv) }
        guard around.count >= 2 else { return nil }
        let average = around.reduce(0, +) / Double(around.count)
        guard change >= settings.adaptiveThreshold * average else { return nil }
        let limit = change * settings.twoFrameGrowth
        for k in 2...(settings.window + 1) where p + k < frames.count && p - k >= 0 {
            if contentDifference(frames[p - 1].hsv, frames[p + k].hsv) > limit
                || contentDifference(frames[p - k].hsv, frames[p + 1].hsv) > limit { return nil }
        }
        return change
    }

    /// Whether `frame` differs by at most `faintDrift` of `change` from the history frame `faintSteadySpan` before it
    /// (or the first since the last cut); true when the history holds none.
    private func steadyBefore(_ frame: AnalysedFrame, change: Double) -> Bool {
        guard let earlier = firstInHistory(since: frame.time - settings.faintSteadySpan), history[earlier].time < frame.time else { return true }
        return contentDifference(history[earlier].hsv, frame.hsv) <= settings.faintDrift * change
    }

    /// The first history frame at or after `time` and not before the last cut.
    private func firstInHistory(since time: Double) -> Int? {
        let since = max(time - DetectorSettings.timeTolerance, memory.lastCutTime)
        return history.firstIndex { $0.time >= since }
    }

    /// Whether the newest frame ends a window of gradual change (see `DetectorSettings.gradualWindow`); `continuing`
    /// when a frame less than half a window before it did (such windows are one transition, whose start alone must
    /// stand out from what came before).
    private mutating func endsGradualChange(continuing: Bool) -> Bool {
        guard let newest = history.last, newest.hsv.count >= 3 else { return false }
        // Whole windows only, as one pass over the video sees them: a stretch decoded after a join starts
        // without the frames before it, which would have been in the window.
        let tolerance = DetectorSettings.timeTolerance
        guard history.count >= 2, let first = history.firstIndex(where: { newest.time - $0.time <= settings.gradualWindow + tolerance }),
              history.count - first >= settings.minGradualFrames else { return false }
        let frameStep = newest.time - history[history.count - 2].time
        let truncated = first == 0 && history.count < DetectorSettings.historyFrames
            && newest.time - (history[0].time - frameStep) <= settings.gradualWindow + tolerance
        guard !truncated else { return false }
        guard continuing || history[first].time >= memory.lastCutTime - tolerance else { return false }
        let frames = history[(first + 1)...]
        let framePath = frames.reduce(0) { $0 + $1.score }
        // The change over the window is at most the sum of its steps (hue aside): still footage stops here.
        guard framePath >= settings.gradualContent * settings.stillPathShare else { return false }
        let start = history[first]
        let change = contentDifference(start.hsv, newest.hsv)
        guard change >= settings.gradualContent,
              !history.contains(where: { newest.time - $0.time <= settings.fadeGuardWindows * settings.gradualWindow && $0.meanValue < settings.fadeLevel })
        else { return false }
        // Wipes and sweeps: twice the dissolve's change, over enough frames to tell how it spread.
        let colourChange = histogramDistance(start.histogram, newest.histogram)
        let large = change >= settings.wipeContentFactor * settings.gradualContent && frames.count >= settings.minWipeFrames
        // Frames that held still say nothing of how the picture changed (a pan from rest is still at first).
        let changing = large ? ((first + 1)..<history.count).filter { history[$0].score * Double(frames.count) >= settings.changingStepShare * framePath } : []
        lazy var sampled = samplePath(from: first)
        if large, settings.rules.contains(.wipe), change >= settings.wipeStraightness * framePath,
           (frames.map(\.score).max() ?? 0) <= settings.wipeLargestStep * framePath,
           colourChange >= settings.replacedHistogram && !pannedAsAWhole(from: first)
            || standsOut(from: first, change: change, steepness: sampled.steepness) && mostlyUnshifted(changing) {
            return true
        }
        if settings.rules.contains(.replacement), replacedOverWindow(from: first) { return true }
        if large, settings.rules.contains(.sweep), sweptOverWindow(from: first, changing: changing) { return true }
        guard settings.rules.contains(.dissolve) else { return false }
        guard continuing || colourChange >= settings.dissolveHistogram && risesOverWindow(from: first, change: change) else { return false }
        return change >= settings.gradualStraightness * sampled.path && sampled.steepness <= settings.gradualSteepness
    }

    /// The window from history frame `first` to the newest, seen at `gradualSteps` + 1 frames spread over it: the
    /// length of that path (the sum of the steps' content differences), and its steepness, the share of the pixels'
    /// change over the window that their largest steps carry (summed over the pixels, saturation and value). Near 1
    /// where each pixel changed at once (a wipe's edge passing, motion), near 1 / `gradualSteps` where it changed
    /// smoothly (a dissolve, a rotating gradient).
    private func samplePath(from first: Int) -> (path: Double, steepness: Double) {
        let step = max(1, (history.count - 1 - first) / settings.gradualSteps)
        var samples = Array(stride(from: first, to: history.count - 1, by: step))
        samples.append(history.count - 1)
        var path = 0.0
        for j in 1..<samples.count { path += contentDifference(history[samples[j - 1]].hsv, history[samples[j]].hsv) }
        let start = history[first].hsv, newest = history[history.count - 1].hsv
        let planeSize = newest.count / 3
        var largestSteps = 0, totals = 0
        var steps = [Int](repeating: 0, count: 2 * planeSize)
        for j in 1..<samples.count {
            let a = history[samples[j - 1]].hsv, b = history[samples[j]].hsv
            for i in planeSize..<(3 * planeSize) {
                steps[i - planeSize] = max(steps[i - planeSize], abs(Int(a[i]) - Int(b[i])))
            }
        }
        for i in planeSize..<(3 * planeSize) {
            totals += abs(Int(start[i]) - Int(newest[i]))
            largestSteps += steps[i - planeSize]
        }
        return (path, totals > 0 ? Double(largestSteps) / Double(totals) : .infinity)
    }

    /// Whether the window starting at `first` changed the picture in a way its own motion does not: faster than the
    /// window before it (`risesOverWindow`), or each pixel at once, as a wipe's edge passing does (`wipeSteepness`).
    /// A picture changing smoothly of itself (a rotating gradient, a sunset) does neither. `steepness` is the window's
    /// (`samplePath`), asked for only when the window did not rise.
    private func standsOut(from first: Int, change: Double, steepness: @autoclosure () -> Double) -> Bool {
        risesOverWindow(from: first, change: change) || steepness() >= settings.wipeSteepness
    }

    /// Whether the picture changed by at most `dissolveRise` of `change` in the window before the one starting at
    /// `first` (counted from the last cut, and at least half a window long): a dissolve starts from its first
    /// scene's pace, where a picture that keeps changing smoothly (a rotating gradient, a sunset, a pan over a
    /// smooth pattern) changed as much before. A window starting less than half a window after a cut is no dissolve.
    private func risesOverWindow(from first: Int, change: Double) -> Bool {
        guard let before = firstInHistory(since: history[first].time - settings.gradualWindow),
              history[first].time - history[before].time >= settings.continuationSpan else { return first == 0 }
        return contentDifference(history[before].hsv, history[first].hsv) <= settings.dissolveRise * change
    }

    /// Whether the window starting at `first` replaced the picture's colours step by step, without
    /// moving, after a window in which they held (see `DetectorSettings.replacedHistogram`).
    private mutating func replacedOverWindow(from first: Int) -> Bool {
        let end = history.count - 1
        guard let before = history.firstIndex(where: { history[first].time - $0.time <= settings.gradualWindow + DetectorSettings.timeTolerance }),
              before > 0 else { return false }
        let change = histogramDistance(history[first].histogram, history[end].histogram)
        guard change >= settings.replacedHistogram else { return false }
        let steps = ((first + 1)...end).map { histogramDistance(history[$0 - 1].histogram, history[$0].histogram) }
        let steady = settings.replacedSteadiness
        guard steps.allSatisfy({ $0 <= settings.replacedLargestStep * change }),
              steps.filter({ $0 >= settings.replacedSmallestStep * change }).count >= settings.replacedSteps,
              histogramDistance(history[before].histogram, history[first].histogram) <= steady * change
        else { return false }
        guard contentDifference(history[before].hsv, history[first].hsv) <= steady * contentDifference(history[first].hsv, history[end].hsv)
              || movedAsAWhole(from: before, to: first) else { return false }
        return mostlyUnshifted(((first + 1)...end).filter { steps[$0 - first - 1] >= settings.replacedSmallestStep * change })
    }

    /// Whether the window starting at `first` swept a new picture in, pixel by pixel and spread over the
    /// window (see `DetectorSettings.sweptShare`), without moving (a fast pan from rest would pass for a sweep).
    private mutating func sweptOverWindow(from first: Int, changing: [Int]) -> Bool {
        let end = history.count - 1
        // The window and the one before it must follow the last cut and be in the history (not a stretch just
        // past its join): else the window may hold the tail of a transition already cut.
        let before = history[first].time - settings.gradualWindow
        guard before > memory.lastCutTime, history[0].time < before + DetectorSettings.timeTolerance else { return false }
        let sweep = Sweep(history[first...end].map(\.hsv), level: settings.sweptLevel)
        guard sweep.switchedShare >= settings.sweptShare, sweep.busiestFrameShare <= settings.sweptBusiestFrame,
              sweep.busyFrames >= settings.replacedSteps else { return false }
        return mostlyUnshifted(changing)
    }

    /// Whether history frame `end` is a shifted copy of frame `start` (a pan, a scroll, handheld shake
    /// between them): the picture held, though it moved.
    private func movedAsAWhole(from start: Int, to end: Int) -> Bool {
        MotionProbe.shift(history[start].hsv, history[end].hsv, width: width).ratio < MotionProbe.stillRatio
    }

    /// Whether the newest history frame is a shifted copy of frame `first`, moved by the frames between them: a
    /// pan that brought in new colours from the side, not a wipe.
    private mutating func pannedAsAWhole(from first: Int) -> Bool {
        let moved = ((first + 1)..<history.count).map { shift(at: $0) }
        let around = (x: moved.reduce(0) { $0 + $1.x }, y: moved.reduce(0) { $0 + $1.y })
        guard around.x != 0 || around.y != 0 else { return false }
        return MotionProbe.ratio(history[first].hsv, history[history.count - 1].hsv, width: width, around: around) < MotionProbe.stillRatio
    }

    /// Whether most of the history frames `changed` are not shifted copies of the frame before them: they changed the
    /// picture where it stands, unlike a pan over large flat patches, whose edges sweep the picture as a wipe's do.
    private mutating func mostlyUnshifted(_ changed: [Int]) -> Bool {
        guard !changed.isEmpty else { return false }
        let ratios = changed.map { motion(at: $0).ratio }.sorted()
        defer { motionShifts = motionShifts.filter { $0.key >= history[0].time } }
        return ratios[ratios.count / 2] >= MotionProbe.stillRatio
    }

    /// How far history frame `j` moved from the one before it, as shares of the width and height: its best
    /// shift where that explains a share of its change (`movedShiftRatio`), else none.
    private mutating func shift(at j: Int) -> (x: Double, y: Double) {
        let found = motion(at: j)
        return found.ratio < settings.movedShiftRatio ? (found.x, found.y) : (0, 0)
    }

    /// `MotionProbe.shift` between history frame `j` and the one before it, computed once per frame.
    private mutating func motion(at j: Int) -> (ratio: Double, x: Double, y: Double) {
        if let known = motionShifts[history[j].time] { return known }
        let found = MotionProbe.shift(history[j - 1].hsv, history[j].hsv, width: width)
        motionShifts[history[j].time] = found
        return found
    }
}
