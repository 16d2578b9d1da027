import CTesseract
import GGShared

/// An 8-bit picture's pixels as bytes, row by row.
struct GrayImage {
    let width: Int
    let height: Int
    var bytes: [UInt8]
}

extension GrayImage {
    init(_ picture: Picture) {
        width = picture.width
        height = picture.height
        bytes = [UInt8](repeating: 0, count: width * height)
        bytes.withUnsafeMutableBufferPointer { gg_pix_copy_gray(picture.pointer, $0.baseAddress) }
    }

    func picture() throws -> Picture {
        guard let pix = bytes.withUnsafeBufferPointer({ gg_pix_from_gray($0.baseAddress, Int32(width), Int32(height)) }) else {
            throw GGError("internal", "cannot make a picture")
        }
        return Picture(pix)
    }
}

/// An 8-connected group of pixels on one side of a threshold, with its bounding box.
struct Blob {
    var minX: Int, minY: Int, maxX: Int, maxY: Int
    var area = 0
    var width: Int { maxX - minX + 1 }
    var height: Int { maxY - minY + 1 }
}

/// The blobs of a thresholded picture and which blob each pixel belongs to (0 for none, else index + 1).
struct BlobMap {
    var labels: [Int32]
    var blobs: [Blob]

    /// Labels the pixels for which `inside` holds, in one union-find pass and one relabelling pass.
    init(_ image: GrayImage, inside: ClosedRange<UInt8>) {
        let w = image.width, h = image.height
        var labels = [Int32](repeating: 0, count: w * h)
        var parent: [Int32] = [0]
        var blobs = [Blob]()
        image.bytes.withUnsafeBufferPointer { pixels in
            labels.withUnsafeMutableBufferPointer { out in
                func root(_ label: Int32) -> Int32 {
                    var r = label
                    while parent[Int(r)] != r { r = parent[Int(r)] }
                    var l = label
                    while parent[Int(l)] != r { let next = parent[Int(l)]; parent[Int(l)] = r; l = next }
                    return r
                }
                for y in 0..<h {
                    var i = y * w
                    for x in 0..<w {
                        defer { i += 1 }
                        guard inside.contains(pixels[i]) else { continue }
                        var found: Int32 = x > 0 ? out[i - 1] : 0
                        if y > 0 {
                            for n in [x > 0 ? out[i - w - 1] : 0, out[i - w], x + 1 < w ? out[i - w + 1] : 0] where n != 0 && n != found {
                                if found == 0 {
                                    found = n
                                } else {
                                    let a = root(n), b = root(found)
                                    if a != b { parent[Int(max(a, b))] = min(a, b) }
                                }
                            }
                        }
                        if found == 0 {
                            found = Int32(parent.count)
                            parent.append(found)
                        }
                        out[i] = found
                    }
                }
                var index = [Int32](repeating: 0, count: parent.count)
                for y in 0..<h {
                    var i = y * w
                    for x in 0..<w {
                        defer { i += 1 }
                        guard out[i] != 0 else { continue }
                        let r = Int(root(out[i]))
                        if index[r] == 0 {
                            blobs.append(Blob(minX: x, minY: y, maxX: x, maxY: y))
                            index[r] = Int32(blobs.count)
                        }
                        out[i] = index[r]
                        let b = Int(index[r]) - 1
                        if x < blobs[b].minX { blobs[b].minX = x }
                        if x > blobs[b].maxX { blobs[b].maxX = x }
                        blobs[b].maxY = y
                        blobs[b].area += 1
                    }
                }
            }
        }
        self.labels = labels
        self.blobs = blobs
    }
}

/// A row of glyph-like blobs sharing a baseline: a line of caption or printed text.
struct TextLine {
    var minX: Int, minY: Int, maxX: Int, maxY: Int
    /// The typical glyph height of the row.
    var glyphHeight: Int
    var baseline: Int
    var glyphs: [Blob]
    /// The glyphs' labels in the blob map the line was found in.
    var labels: Set<Int32>

    /// Whether a blob belongs to the line: one of its glyphs (however far it reaches below the baseline: Q, J,
    /// р), or a small solid mark just above a glyph
    /// (the dot of an i, an accent) or on the baseline next to one (a full stop, a comma).
    func includes(_ blob: Blob, label: Int32) -> Bool {
        if labels.contains(label) { return true }
        let s = settings.marks
        let h = Double(glyphHeight)
        guard Double(blob.height) <= s.maxBlobHeight * h, Double(blob.area) >= s.minArea * h * h else { return false }
        let fill = Double(blob.area) / Double(blob.width * blob.height)
        let mark = Double(blob.height) <= s.maxHeight * h && fill >= s.minFill && blob.width <= blob.height * s.maxWidthRatio
            && blob.height <= blob.width * s.maxTallness
        guard mark else { return false }
        let onBaseline = Double(abs(blob.maxY - baseline)) <= s.baselineTolerance * h
        return glyphs.contains { glyph in
            let over = min(glyph.maxX, blob.maxX) - max(glyph.minX, blob.minX)
            if over >= 0 && Double(over + 1) >= s.minOverGlyph * Double(blob.width) {
                let above = glyph.minY - blob.maxY
                return above >= 0 && Double(above) <= s.maxAbove * h
            }
            let gap = max(blob.minX - glyph.maxX, glyph.minX - blob.maxX)
            return onBaseline && Double(gap) <= s.maxGap * h
        }
    }
}

/// Finds lines of text as rows of glyph-shaped blobs in a thresholded picture and renders each one alone,
/// glyphs black on white, so that Tesseract reads captions without the video behind them.
enum CaptionLines {
    /// Bright glyphs and dark glyphs (`LineFinding.brightGlyphs`, `.darkGlyphs`).
    static let thresholds: [ClosedRange<UInt8>] = [settings.lines.brightGlyphs, settings.lines.darkGlyphs]

    /// Whether the pictures' blobs are texture (`LineFinding.textureDensity`).
    static func isTexture(_ maps: [BlobMap], pixels: Int) -> Bool {
        Double(maps.reduce(0) { $0 + $1.blobs.count }) > settings.lines.textureDensity * Double(max(pixels, 1))
    }

    static func lines(in map: BlobMap, imageHeight: Int) -> [TextLine] {
        let s = settings.lines
        let minHeight = max(s.minGlyphPixels, Int(Double(imageHeight) * s.minGlyphShare))
        let maxHeight = max(minHeight, Int(Double(imageHeight) * s.maxGlyphShare))
        let glyphs = map.blobs.indices.filter { i in
            let b = map.blobs[i]
            let fill = Double(b.area) / Double(b.width * b.height)
            return b.height >= minHeight && b.height <= maxHeight && Double(b.width) <= s.maxGlyphWidth * Double(b.height)
                && fill >= s.glyphFill.lowerBound && (fill <= s.glyphFill.upperBound || b.width * s.solidGlyphTallness <= b.height)
        }.sorted { map.blobs[$0].minX < map.blobs[$1].minX }
        let tooTall = map.blobs.indices.filter { map.blobs[$0].height > maxHeight }
        let lefts = glyphs.map { map.blobs[$0].minX }
        func firstAtOrRight(of x: Int) -> Int {
            var low = 0, high = lefts.count
            while low < high {
                let mid = (low + high) / 2
                if lefts[mid] < x { low = mid + 1 } else { high = mid }
            }
            return low
        }
        var used = Set<Int>()
        var found = [TextLine]()
        for start in glyphs where !used.contains(start) {
            var members = [map.blobs[start]]
            var labels: Set<Int32> = [Int32(start + 1)]
            used.insert(start)
            var right = map.blobs[start].maxX
            var heightSum = map.blobs[start].height
            var centreSum = map.blobs[start].minY + map.blobs[start].maxY
            while true {
                let height = Double(heightSum) / Double(members.count)
                let centre = Double(centreSum) / Double(2 * members.count)
                let from = firstAtOrRight(of: right - Int(s.glyphOverhang * height))
                let next = glyphs[from...].prefix { Double(map.blobs[$0].minX - right) < s.maxGlyphGap * height }.first { i in
                    let b = map.blobs[i]
                    return !used.contains(i)
                        && abs(Double(b.minY + b.maxY) / 2 - centre) < s.maxCentreShift * height
                        && Double(b.height) / height > s.minHeightRatio && Double(b.height) / height < s.maxHeightRatio
                }
                guard let next else { break }
                used.insert(next)
                let b = map.blobs[next]
                members.append(b)
                labels.insert(Int32(next + 1))
                right = max(right, b.maxX)
                heightSum += b.height
                centreSum += b.minY + b.maxY
            }
            guard members.count >= s.minLineGlyphs else { continue }
            let bottoms = members.map(\.maxY).sorted()
            let baseline = bottoms[bottoms.count / 2]
            let heights = members.map(\.height).sorted()
            let typical = heights[heights.count / 2]
            let aligned = members.filter {
                Double(abs($0.maxY - baseline)) <= s.baselineTolerance * Double(typical)
                    && Double($0.height) >= s.alignedHeight.lowerBound * Double(typical)
                    && Double($0.height) <= s.alignedHeight.upperBound * Double(typical)
            }.count
            guard aligned >= s.minLineGlyphs, Double(aligned) >= s.minAlignedShare * Double(members.count) else { continue }
            let tops = members.map(\.minY).sorted()
            for i in outreaching(map, among: tooTall, beside: members, top: tops[tops.count / 2], glyphHeight: typical) {
                members.append(map.blobs[i])
                labels.insert(Int32(i + 1))
                right = max(right, map.blobs[i].maxX)
            }
            found.append(TextLine(minX: members.map(\.minX).min()!, minY: members.map(\.minY).min()!,
                                  maxX: right, maxY: members.map(\.maxY).max()!, glyphHeight: typical, baseline: baseline,
                                  glyphs: members, labels: labels))
        }
        return joinedRows(found)
    }

    /// Of the blobs too tall to be glyphs (`tooTall`, over a share of the picture's height, so in no line),
    /// those that reach below the line's baseline from its cap height (J, Q, р in large print on a small
    /// picture; `LineFinding.outreachingHeight`), whose top is the line's, right before its first glyph, after
    /// its last, or between two.
    static func outreaching(_ map: BlobMap, among tooTall: [Int], beside members: [Blob], top: Int, glyphHeight: Int) -> [Int] {
        let s = settings.lines
        let h = Double(glyphHeight)
        let left = members.map(\.minX).min()!, right = members.map(\.maxX).max()!
        return tooTall.filter { i in
            let b = map.blobs[i]
            let fill = Double(b.area) / Double(b.width * b.height)
            return s.outreachingHeight.contains(Double(b.height) / h) && Double(abs(b.minY - top)) <= s.outreachingTop * h
                && Double(b.width) <= s.outreachingWidth * h && s.glyphFill.contains(fill)
                && Double(b.maxX) >= Double(left) - s.maxGlyphGap * h && Double(b.minX) <= Double(right) + s.maxGlyphGap * h
        }
    }

    /// Joins lines that continue each other on one baseline (a glyph lost to the background splits a line).
    static func joinedRows(_ lines: [TextLine]) -> [TextLine] {
        let s = settings.lines
        var rows = [TextLine]()
        for line in lines.sorted(by: { $0.minX < $1.minX }) {
            let h = Double(line.glyphHeight)
            if let n = rows.lastIndex(where: { row in
                Double(abs(row.baseline - line.baseline)) <= s.rowBaselineTolerance * h && abs(Double(row.glyphHeight) - h) <= s.rowHeightTolerance * h
                    && line.minX > row.maxX && Double(line.minX - row.maxX) <= s.rowGap * h
            }) {
                rows[n].minX = min(rows[n].minX, line.minX)
                rows[n].maxX = max(rows[n].maxX, line.maxX)
                rows[n].minY = min(rows[n].minY, line.minY)
                rows[n].maxY = max(rows[n].maxY, line.maxY)
                rows[n].glyphs += line.glyphs
                rows[n].labels.formUnion(line.labels)
            } else {
                rows.append(line)
            }
        }
        return rows
    }

    /// Whether two lines share more than `LineFinding.lineOverlap` of the smaller one's box.
    static func overlap(_ a: TextLine, _ b: TextLine) -> Bool {
        let w = min(a.maxX, b.maxX) - max(a.minX, b.minX) + 1, h = min(a.maxY, b.maxY) - max(a.minY, b.minY) + 1
        guard w > 0, h > 0 else { return false }
        let smaller = min((a.maxX - a.minX + 1) * (a.maxY - a.minY + 1), (b.maxX - b.minX + 1) * (b.maxY - b.minY + 1))
        return Double(w * h) > settings.lines.lineOverlap * Double(smaller)
    }

    /// The line's glyphs (with dots, accents and punctuation inside its padded box) black on white,
    /// scaled so glyphs are about `Rendering.glyphPixels` high; returns the picture, its scale and its origin. A glyph
    /// touching a bright or dark area beyond the line (a tight caption box over a yellow wall) is carved
    /// out of that area's blob along the line's rows.
    static func render(_ line: TextLine, from map: BlobMap, width: Int, height: Int) throws -> (Picture, Double, Int, Int) {
        let s = settings.rendering
        let pad = max(s.minPad, Int(Double(line.glyphHeight) * s.pad))
        let x0 = max(0, line.minX - pad), y0 = max(0, line.minY - pad)
        let x1 = min(width - 1, line.maxX + pad), y1 = min(height - 1, line.maxY + pad)
        let w = x1 - x0 + 1, h = y1 - y0 + 1
        var keep = [Int32: Bool]()
        var beyond = Set<Int32>()
        var bytes = [UInt8](repeating: 255, count: w * h)
        for y in y0...y1 {
            for x in x0...x1 {
                let label = map.labels[y * width + x]
                guard label != 0 else { continue }
                let inside = keep[label] ?? {
                    let b = map.blobs[Int(label) - 1]
                    let inBox = b.minX >= x0 && b.maxX <= x1 && b.minY >= y0 && b.maxY <= y1
                    if !inBox { beyond.insert(label) }
                    let fits = inBox && line.includes(b, label: label)
                    keep[label] = fits
                    return fits
                }()
                if inside { bytes[(y - y0) * w + (x - x0)] = 0 }
            }
        }
        if !beyond.isEmpty {
            for (x, y) in carvedGlyphs(line, from: map, labels: beyond, x0: x0, x1: x1, width: width).joined() {
                bytes[(y - y0) * w + (x - x0)] = 0
            }
        }
        let picture = try GrayImage(width: w, height: h, bytes: bytes).picture()
        let scale = min(s.scaleRange.upperBound, max(s.scaleRange.lowerBound, s.glyphPixels / Double(line.glyphHeight)))
        if abs(scale - 1) < s.unscaledTolerance { return (picture, 1, x0, y0) }
        return (try picture.scaled(scale), scale, x0, y0)
    }

    /// The glyph-shaped pieces that the blobs `labels` (which reach beyond the line's box) leave on the
    /// line's rows between x0 and x1, as their pixels: pieces of a glyph's height on the line's baseline,
    /// neither solid nor thin, in a gap between its glyphs, and joined to the rest of their blob only by
    /// a narrow contact (a background cut by the rows touches them along its whole width).
    static func carvedGlyphs(_ line: TextLine, from map: BlobMap, labels: Set<Int32>, x0: Int, x1: Int,
                             width: Int) -> [[(x: Int, y: Int)]] {
        let w = x1 - x0 + 1, h = line.maxY - line.minY + 1
        var mask = [UInt8](repeating: 0, count: w * h)
        for y in line.minY...line.maxY {
            for x in x0...x1 where labels.contains(map.labels[y * width + x]) {
                mask[(y - line.minY) * w + (x - x0)] = 255
            }
        }
        let pieces = BlobMap(GrayImage(width: w, height: h, bytes: mask), inside: 255...255)
        let s = settings.rendering
        let g = Double(line.glyphHeight)
        var found = [[(x: Int, y: Int)]]()
        for (n, piece) in pieces.blobs.enumerated() {
            let fill = Double(piece.area) / Double(piece.width * piece.height)
            let left = piece.minX + x0, right = piece.maxX + x0
            guard s.carvedHeight.contains(Double(piece.height) / g), s.carvedWidth.contains(Double(piece.width) / g), s.carvedFill.contains(fill),
                  Double(abs(piece.maxY + line.minY - line.baseline)) <= s.carvedBaseline * g, left > line.minX, right < line.maxX,
                  !line.glyphs.contains(where: { Double(min($0.maxX, right) - max($0.minX, left)) > s.carvedOverlap * g }) else { continue }
            let label = Int32(n + 1)
            func contact(_ row: Int) -> Int { (piece.minX...piece.maxX).filter { pieces.labels[row * w + $0] == label }.count }
            guard Double(contact(0)) <= s.carvedContact * Double(piece.width), Double(contact(h - 1)) <= s.carvedContact * Double(piece.width) else { continue }
            var pixels = [(x: Int, y: Int)]()
            for y in piece.minY...piece.maxY {
                for x in piece.minX...piece.maxX where pieces.labels[y * w + x] == label {
                    pixels.append((x + x0, y + line.minY))
                }
            }
            found.append(pixels)
        }
        return found
    }
}
