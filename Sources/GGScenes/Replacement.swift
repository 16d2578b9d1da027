// Colour histograms and the motion probe of the replacement test (see `DetectorSettings.replacedHistogram`).

/// The classes of `colourHistogram`: `hueBins` hues `hueBinWidth` wide (OpenCV hue steps, 0-179), each split at
/// value `brightValue` into dark and bright, for pixels with colour; `greyBins` levels of value (value shifted
/// right by `greyLevelShift`) for grey ones.
enum ColourClasses {
    static let hueBins = 12
    static let hueBinWidth = 15
    static let brightValue = 128
    static let greyLevelShift = 5
    static let greyBins = 256 >> greyLevelShift
    static let count = 2 * hueBins + greyBins
}

/// A picture's colours as shares of `ColourClasses` summing to 1.
func colourHistogram(_ hsv: [UInt8]) -> [Double] {
    let planeSize = hsv.count / 3
    guard planeSize > 0 else { return [] }
    typealias C = ColourClasses
    var counts = [Int](repeating: 0, count: C.count)
    hsv.withUnsafeBufferPointer { p in
        for i in 0..<planeSize {
            let v = Int(p[2 &* planeSize &+ i])
            if Int(p[planeSize &+ i]) >= greyHueSaturation {
                counts[min(C.hueBins - 1, Int(p[i]) / C.hueBinWidth) &* 2 &+ (v >= C.brightValue ? 1 : 0)] &+= 1
            } else {
                counts[2 &* C.hueBins &+ v >> C.greyLevelShift] &+= 1
            }
        }
    }
    return counts.map { Double($0) / Double(planeSize) }
}

/// Half the L1 distance of two colour histograms: the share of pixels that changed colour class, 0-1.
func histogramDistance(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return 0 }
    return zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } / 2
}

/// Whether one picture is a shifted copy of another (a pan, a slide), on every other pixel of them.
enum MotionProbe {
    /// A pair whose best shift leaves less than this share of the unshifted difference moved.
    static let stillRatio = 0.7
    /// Shifts searched: up to 1 / `widthReach` of the width and 1 / `heightReach` of the height, on every
    /// `searchStep`-th shift and then around the best; the margins left are at least `minSearchPixels` wide.
    static let widthReach = 5
    static let heightReach = 7
    static let searchStep = 2
    static let minSearchPixels = 4
    /// A shift `ratio` tries leaves at least 1 / `minOverlapShare` of the width and height in both pictures.
    static let minOverlapShare = 4

    /// The smallest content difference (as `contentDifference` counts it) over shifts of up to a fifth of
    /// the width and a seventh of the height (a pan of about 2 widths a second at 25 fps), searched on
    /// even shifts and then around the best, over the unshifted one; and that best shift, as shares of the
    /// width and height.
    static func shift(_ a: [UInt8], _ b: [UInt8], width: Int) -> (ratio: Double, x: Double, y: Double) {
        let planeSize = a.count / 3
        guard width >= 4, planeSize == b.count / 3, planeSize % width == 0 else { return (1, 0, 0) }
        let pa = halved(a, width: width), pb = halved(b, width: width)
        let w = width / 2, h = planeSize / width / 2, n = w * h
        let mx = w / widthReach, my = h / heightReach
        guard w - 2 * mx >= minSearchPixels, h - 2 * my >= minSearchPixels else { return (1, 0, 0) }
        /// The difference at shift (dx, dy) inside the margins, or any total of at least `bound` once the rows
        /// summed reach it (such a shift cannot be the best).
        func difference(_ dx: Int, _ dy: Int, bound: Int = .max) -> Int {
            pa.withUnsafeBufferPointer { pa in
                pb.withUnsafeBufferPointer { pb in
                    MotionProbe.difference(pa, pb, width: w, planeSize: n, dx: dx, dy: dy, columns: mx..<(w - mx), rows: my..<(h - my), bound: bound)
                }
            }
        }
        let unshifted = difference(0, 0)
        guard unshifted > 0 else { return (1, 0, 0) }
        var best = (unshifted, 0, 0)
        for dy in stride(from: -my, through: my, by: searchStep) {
            for dx in stride(from: -mx, through: mx, by: searchStep) where dx != 0 || dy != 0 {
                let d = difference(dx, dy, bound: best.0)
                if d < best.0 { best = (d, dx, dy) }
            }
        }
        let (_, cx, cy) = best
        for dy in max(-my, cy - 1)...min(my, cy + 1) {
            for dx in max(-mx, cx - 1)...min(mx, cx + 1) where dx != cx || dy != cy {
                let d = difference(dx, dy, bound: best.0)
                if d < best.0 { best = (d, dx, dy) }
            }
        }
        return (Double(best.0) / Double(unshifted), Double(best.1) / Double(w), Double(best.2) / Double(h))
    }

    /// The share of the unshifted difference of `a` and `b` left at the best shift within `radius` pixels (of
    /// the halved pictures) of `around` (shares of the width and height, as `shift` gives them), each over the
    /// pixels that shift leaves in both pictures: 1 where no shift explains the change.
    static func ratio(_ a: [UInt8], _ b: [UInt8], width: Int, around: (x: Double, y: Double), radius: Int = 2) -> Double {
        let planeSize = a.count / 3
        guard width >= 4, planeSize == b.count / 3, planeSize % width == 0 else { return 1 }
        let pa = halved(a, width: width), pb = halved(b, width: width)
        let w = width / 2, h = planeSize / width / 2, n = w * h
        let cx = Int((around.x * Double(w)).rounded()), cy = Int((around.y * Double(h)).rounded())
        var best = 1.0
        pa.withUnsafeBufferPointer { pa in
            pb.withUnsafeBufferPointer { pb in
                for dy in (cy - radius)...(cy + radius) {
                    for dx in (cx - radius)...(cx + radius) {
                        let x0 = max(0, -dx), x1 = min(w, w - dx), y0 = max(0, -dy), y1 = min(h, h - dy)
                        guard minOverlapShare * (x1 - x0) >= w, minOverlapShare * (y1 - y0) >= h else { continue }
                        let shifted = difference(pa, pb, width: w, planeSize: n, dx: dx, dy: dy, columns: x0..<x1, rows: y0..<y1)
                        let unshifted = difference(pa, pb, width: w, planeSize: n, dx: 0, dy: 0, columns: x0..<x1, rows: y0..<y1)
                        if unshifted > 0 { best = min(best, Double(shifted) / Double(unshifted)) }
                    }
                }
            }
        }
        return best
    }

    /// The summed `pixelChange` of the pixels of `b` in `columns` and `rows` against those of `a` shifted by
    /// (dx, dy) (halved planar pictures `width` wide, of `planeSize` pixels a plane), summed row by row and
    /// stopped once it reaches `bound`.
    @inline(__always)
    static func difference(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, width w: Int, planeSize n: Int,
                           dx: Int, dy: Int, columns: Range<Int>, rows: Range<Int>, bound: Int = .max) -> Int {
        var total = 0
        for y in rows {
            let rowB = y &* w, rowA = (y &+ dy) &* w &+ dx
            for x in columns { total &+= pixelChange(b, rowB &+ x, a, rowA &+ x, planeSize: n) }
            if total >= bound { break }
        }
        return total
    }

    /// The three planes at half the size, keeping every other pixel of every other row.
    static func halved(_ hsv: [UInt8], width: Int) -> [UInt8] {
        let planeSize = hsv.count / 3, height = planeSize / width
        let w = width / 2, h = height / 2
        var out = [UInt8](repeating: 0, count: 3 * w * h)
        for plane in 0..<3 {
            for y in 0..<h {
                for x in 0..<w { out[plane * w * h + y * w + x] = hsv[plane * planeSize + 2 * y * width + 2 * x] }
            }
        }
        return out
    }
}

/// How a window of pictures changed pixel by pixel: which pixels switched (changed by at least a level over
/// the window, at least half of it in one frame) and in which frame each did.
struct Sweep {
    /// Switched pixels, as a share of the pixels looked at.
    var switchedShare = 0.0
    /// Of the switched pixels, the share that switched in the busiest frame.
    var busiestFrameShare = 0.0
    /// Frames in which at least 1 / `busyFrameShare` of the switched pixels switched.
    var busyFrames = 0
    /// A pixel switches when at least 1 / `oneFrameShare` of its change over the window came in one frame.
    static let oneFrameShare = 2
    static let busyFrameShare = 10

    /// The sweep over `pictures` (planar HSV, oldest first), on every other pixel.
    init(_ pictures: [[UInt8]], level: Int) {
        guard pictures.count >= 3, let first = pictures.first, !first.isEmpty,
              pictures.allSatisfy({ $0.count == first.count }) else { return }
        let size = first.count, planeSize = size / 3, last = (pictures.count - 1) * size
        let window = pictures.flatMap { $0 }
        var perFrame = [Int](repeating: 0, count: pictures.count)
        var switched = 0, looked = 0
        window.withUnsafeBufferPointer { p in
            for i in stride(from: 0, to: planeSize, by: 2) {
                looked += 1
                let net = pixelChange(p, i, p, last &+ i, planeSize: planeSize)
                guard net >= level else { continue }
                var largest = 0, at = 0
                for j in 1..<pictures.count {
                    let step = pixelChange(p, (j &- 1) &* size &+ i, p, j &* size &+ i, planeSize: planeSize)
                    if step > largest { largest = step; at = j }
                }
                guard Sweep.oneFrameShare * largest >= net else { continue }
                switched += 1
                perFrame[at] += 1
            }
        }
        guard switched > 0 else { return }
        switchedShare = Double(switched) / Double(looked)
        busiestFrameShare = Double(perFrame.max() ?? 0) / Double(switched)
        busyFrames = perFrame.filter { Sweep.busyFrameShare * $0 >= switched }.count
    }
}
