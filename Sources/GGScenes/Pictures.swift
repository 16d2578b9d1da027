import CFFmpeg
import Foundation
import GGMedia
import GGShared

/// An owned libswscale context, rebuilt when the input geometry changes.
final class Scaler {
    private var context: OpaquePointer?

    deinit { sws_freeContext(context) }

    /// Scales `frame` into planes described by `destination` and `strides`.
    func scale(_ frame: UnsafeMutablePointer<AVFrame>, width: Int32, height: Int32, format: AVPixelFormat,
               destination: UnsafePointer<UnsafeMutablePointer<UInt8>?>, strides: UnsafePointer<Int32>) throws {
        context = sws_getCachedContext(context, frame.pointee.width, frame.pointee.height, AVPixelFormat(frame.pointee.format),
                                       width, height, format, SWS_AREA, nil, nil, nil)
        guard let context else { throw GGError("unsupported_codec", "cannot convert pixel format \(frame.pointee.format)") }
        _ = withUnsafePointer(to: &frame.pointee.data) { data in
            withUnsafePointer(to: &frame.pointee.linesize) { lines in
                data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                    lines.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                        sws_scale(context, src, srcStride, 0, frame.pointee.height, destination, strides)
                    }
                }
            }
        }
    }
}

/// Scales decoded frames to a small RGB picture for analysis, `size` pixels on its longer side (portrait
/// frames get as many pixels as landscape ones).
final class AnalysisScaler {
    let size: Int
    private let scaler = Scaler()
    private var buffer = [UInt8]()
    private var planes = [UInt8]()
    private var rowSums = [UInt16]()
    private(set) var height = 0

    init(size: Int) { self.size = size }

    /// Width of an HSV picture this scaler made (its three planes are `height` rows).
    func width(of hsv: [UInt8]) -> Int { height > 0 ? hsv.count / 3 / height : 0 }

    func hsv(of frame: UnsafeMutablePointer<AVFrame>, into hsv: inout [UInt8]) throws -> Double {
        let frameWidth = Int(frame.pointee.width), frameHeight = Int(frame.pointee.height)
        let w: Int
        var h: Int
        if frameHeight > frameWidth {
            h = max(2, min(size, frameHeight))
            h -= h % 2
            w = max(2, Int((Double(frameWidth) * Double(h) / Double(frameHeight)).rounded()))
        } else {
            w = min(size, frameWidth)
            h = max(2, Int((Double(frameHeight) * Double(w) / Double(max(frameWidth, 1))).rounded()))
            h -= h % 2
        }
        height = h
        let stride = w * 3
        if buffer.count != stride * h { buffer = [UInt8](repeating: 0, count: stride * h) }
        if let layout = AnalysisScaler.planarLayout(AVPixelFormat(frame.pointee.format)), Int(frame.pointee.width) >= 4 * w,
           Int(frame.pointee.height) / h < AnalysisScaler.maxBlockRows {
            averagePlanarYUV(frame, width: w, height: h, layout: layout)
        } else {
            try buffer.withUnsafeMutableBufferPointer { out in
                var planes: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
                var strides: [Int32] = [Int32(stride), 0, 0, 0]
                try scaler.scale(frame, width: Int32(w), height: Int32(h), format: AV_PIX_FMT_RGB24, destination: &planes, strides: &strides)
            }
        }
        return buffer.withUnsafeBufferPointer { rgbToHSV($0.baseAddress!, width: w, height: h, stride: stride, into: &hsv) }
    }

    /// Tallest block `average` sums in 16 bits.
    static let maxBlockRows = 256

    /// How many bits the chroma planes of an 8-bit planar YUV format (4:2:0, 4:2:2 or 4:4:4) are shifted by
    /// across and down, and whether it is one of the full-range (JPEG) formats; nil for any other format.
    static func planarLayout(_ format: AVPixelFormat) -> (x: Int, y: Int, fullRange: Bool)? {
        switch format {
        case AV_PIX_FMT_YUV420P: (1, 1, false)
        case AV_PIX_FMT_YUVJ420P: (1, 1, true)
        case AV_PIX_FMT_YUV422P: (1, 0, false)
        case AV_PIX_FMT_YUVJ422P: (1, 0, true)
        case AV_PIX_FMT_YUV444P: (0, 0, false)
        case AV_PIX_FMT_YUVJ444P: (0, 0, true)
        default: nil
        }
    }

    /// Downsamples a large 8-bit planar YUV frame to RGB by averaging each plane over the block of
    /// source pixels an output pixel covers (an area scale, as libswscale's SWS_AREA does, at a
    /// fraction of its cost), then converting the averages.
    private func averagePlanarYUV(_ frame: UnsafeMutablePointer<AVFrame>, width w: Int, height h: Int, layout: (x: Int, y: Int, fullRange: Bool)) {
        let srcW = Int(frame.pointee.width), srcH = Int(frame.pointee.height)
        let chromaW = (srcW + (1 << layout.x) - 1) >> layout.x
        let chromaH = (srcH + (1 << layout.y) - 1) >> layout.y
        let full = layout.fullRange || frame.pointee.color_range == AVCOL_RANGE_JPEG
        if planes.count != 3 * w * h { planes = [UInt8](repeating: 0, count: 3 * w * h) }
        planes.withUnsafeMutableBufferPointer { out in
            AnalysisScaler.average(frame.pointee.data.0!, stride: Int(frame.pointee.linesize.0), width: srcW, height: srcH,
                                   into: out.baseAddress!, width: w, height: h, sums: &rowSums)
            AnalysisScaler.average(frame.pointee.data.1!, stride: Int(frame.pointee.linesize.1), width: chromaW, height: chromaH,
                                   into: out.baseAddress! + w * h, width: w, height: h, sums: &rowSums)
            AnalysisScaler.average(frame.pointee.data.2!, stride: Int(frame.pointee.linesize.2), width: chromaW, height: chromaH,
                                   into: out.baseAddress! + 2 * w * h, width: w, height: h, sums: &rowSums)
        }
        let bias = full ? 0 : 16, scale = full ? 256 : 298, chromaScale = full ? 256 : 292
        let n = w * h
        planes.withUnsafeBufferPointer { yuv in
            buffer.withUnsafeMutableBufferPointer { out in
                for i in 0..<n {
                    let luma = (Int(yuv[i]) &- bias) &* scale >> 8
                    let cb = (Int(yuv[n &+ i]) &- 128) &* chromaScale >> 8
                    let cr = (Int(yuv[2 &* n &+ i]) &- 128) &* chromaScale >> 8
                    out[3 &* i] = UInt8(clamping: luma &+ ((359 &* cr) >> 8))
                    out[3 &* i &+ 1] = UInt8(clamping: luma &- ((88 &* cb &+ 183 &* cr) >> 8))
                    out[3 &* i &+ 2] = UInt8(clamping: luma &+ ((454 &* cb) >> 8))
                }
            }
        }
    }

    /// Writes the rounded means of `count` blocks of `width` column sums (of `rows` rows each) from `sums`,
    /// each block summed by `sum` (unrolled for the common widths: a loop of unknown length per block
    /// costs more than the rest of the scale).
    @inline(__always)
    private static func blocks(of sums: UnsafePointer<UInt16>, _ width: Int, rows: UInt64, into out: UnsafeMutablePointer<UInt8>,
                               count: Int, _ sum: (UnsafePointer<UInt16>) -> UInt64) {
        let pixels = rows &* UInt64(width)
        let inverse = reciprocal(pixels)
        for ox in 0..<count { out[ox] = roundedMean(sum(sums + ox &* width), pixels: pixels, reciprocal: inverse) }
    }

    /// 2^32 / `pixels`, rounded up: `roundedMean` divides by multiplying with it.
    @inline(__always)
    private static func reciprocal(_ pixels: UInt64) -> UInt64 { (UInt64(1) << 32) / pixels &+ 1 }

    /// `total` / `pixels` rounded to the nearest byte, given `reciprocal(pixels)`.
    @inline(__always)
    private static func roundedMean(_ total: UInt64, pixels: UInt64, reciprocal: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: min(255, ((total &* 2 &+ pixels) &* reciprocal) >> 33))
    }

    @inline(__always)
    private static func sum4(_ a: UnsafePointer<UInt16>) -> UInt64 {
        (UInt64(a[0]) &+ UInt64(a[1])) &+ (UInt64(a[2]) &+ UInt64(a[3]))
    }

    /// Averages a `width` x `height` plane of bytes (at least `outWidth` wide) over `outWidth` x
    /// `outHeight` blocks of at most `maxBlockRows` rows: rows of a block are summed column by column
    /// in 16 bits (a loop the compiler vectorises), then each block's columns, divided by multiplying.
    /// Blocks are `width / outWidth` or one more columns wide, spread as evenly as integers allow.
    private static func average(_ source: UnsafePointer<UInt8>, stride: Int, width: Int, height: Int,
                                into out: UnsafeMutablePointer<UInt8>, width outWidth: Int, height outHeight: Int, sums: inout [UInt16]) {
        if sums.count < width { sums = [UInt16](repeating: 0, count: width) }
        let narrow = width / outWidth, spare = width % outWidth
        sums.withUnsafeMutableBufferPointer { sums in
            let acc = sums.baseAddress!
            for oy in 0..<outHeight {
                let y0 = oy * height / outHeight, y1 = max(y0 + 1, (oy + 1) * height / outHeight)
                acc.update(repeating: 0, count: width)
                var y = y0
                while y &+ 2 <= y1 {
                    let r0 = source + y &* stride, r1 = r0 + stride
                    for x in 0..<width { acc[x] &+= UInt16(r0[x]) &+ UInt16(r1[x]) }
                    y &+= 2
                }
                if y < y1 {
                    let row = source + y &* stride
                    for x in 0..<width { acc[x] &+= UInt16(row[x]) }
                }
                let rows = UInt64(y1 - y0)
                if spare == 0 {
                    let row = out + oy &* outWidth
                    switch narrow {
                    case 4: blocks(of: acc, 4, rows: rows, into: row, count: outWidth) { sum4($0) }
                    case 6: blocks(of: acc, 6, rows: rows, into: row, count: outWidth) { sum4($0) &+ UInt64($0[4]) &+ UInt64($0[5]) }
                    case 8: blocks(of: acc, 8, rows: rows, into: row, count: outWidth) { sum4($0) &+ sum4($0 + 4) }
                    case 12: blocks(of: acc, 12, rows: rows, into: row, count: outWidth) { sum4($0) &+ sum4($0 + 4) &+ sum4($0 + 8) }
                    default: blocks(of: acc, narrow, rows: rows, into: row, count: outWidth) { a in (0..<narrow).reduce(0) { $0 &+ UInt64(a[$1]) } }
                    }
                    continue
                }
                let pixelsNarrow = rows &* UInt64(narrow), pixelsWide = rows &* UInt64(narrow &+ 1)
                let inverseNarrow = reciprocal(pixelsNarrow), inverseWide = reciprocal(pixelsWide)
                var x0 = 0, error = 0
                for ox in 0..<outWidth {
                    error &+= spare
                    let wide = error >= outWidth
                    if wide { error &-= outWidth }
                    let x1 = x0 &+ (wide ? narrow &+ 1 : narrow)
                    var total: UInt64 = 0
                    for x in x0..<x1 { total &+= UInt64(acc[x]) }
                    out[oy &* outWidth &+ ox] = wide ? roundedMean(total, pixels: pixelsWide, reciprocal: inverseWide)
                        : roundedMean(total, pixels: pixelsNarrow, reciprocal: inverseNarrow)
                    x0 = x1
                }
            }
        }
    }
}

/// Writes frames as JPEG or PNG files with libavcodec's encoders.
/// Pictures are shown as players show them: stretched by the sample aspect ratio and turned by the
/// display matrix (`geometry`), then no wider than `maxWidth`.
struct ImageWriter: Sendable {
    enum Format: String { case jpg, png }
    let format: Format
    let maxWidth: Int
    var geometry = DisplayGeometry()

    init(format: Format, maxWidth: Int) {
        self.format = format
        self.maxWidth = maxWidth
    }

    func write(_ source: Frame, to path: String) throws {
        let frame = source.pointer
        let shownWidth = Double(frame.pointee.width) * geometry.sampleAspect
        let limit = Double(maxWidth) / (geometry.rotation % 180 == 0 ? shownWidth : Double(frame.pointee.height)) 
        let scale = min(1, max(limit, 0))
        var width = Int32((shownWidth * scale).rounded())
        var height = Int32((Double(frame.pointee.height) * scale).rounded())
        width -= width % 2
        height -= height % 2
        let pixelFormat = format == .jpg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_RGB24
        let converted = Frame()
        converted.pointer.pointee.width = width
        converted.pointer.pointee.height = height
        converted.pointer.pointee.format = pixelFormat.rawValue
        guard av_frame_get_buffer(converted.pointer, 0) >= 0 else { throw GGError("internal", "out of memory for keyframe") }
        let scaler = Scaler()
        try withUnsafePointer(to: &converted.pointer.pointee.data) { data in
            try withUnsafePointer(to: &converted.pointer.pointee.linesize) { lines in
                try data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dst in
                    try lines.withMemoryRebound(to: Int32.self, capacity: 8) { dstStride in
                        try scaler.scale(frame, width: width, height: height, format: pixelFormat, destination: dst, strides: dstStride)
                    }
                }
            }
        }
        let shown = try ImageWriter.rotated(converted, by: geometry.rotation, packed: format == .png)
        let encoder = try Encoder(id: format == .jpg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG, width: shown.pointer.pointee.width,
                                  height: shown.pointer.pointee.height, format: pixelFormat)
        shown.pointer.pointee.quality = 3 * FF_QP2LAMBDA
        shown.pointer.pointee.pts = 0
        let bytes = try encoder.encode(shown)
        let temp = path + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: bytes), rename(temp, path) == 0 else {
            throw GGError("io", "cannot write keyframe \(path)")
        }
    }
}

extension ImageWriter {
    /// `frame` (YUV 4:2:0 planes, or packed RGB24 when `packed`) turned clockwise by 0, 90, 180 or 270 degrees.
    static func rotated(_ frame: Frame, by degrees: Int, packed: Bool) throws -> Frame {
        guard degrees % 360 != 0 else { return frame }
        let width = Int(frame.pointer.pointee.width), height = Int(frame.pointer.pointee.height)
        let out = Frame()
        out.pointer.pointee.width = Int32(degrees == 180 ? width : height)
        out.pointer.pointee.height = Int32(degrees == 180 ? height : width)
        out.pointer.pointee.format = frame.pointer.pointee.format
        guard av_frame_get_buffer(out.pointer, 0) >= 0 else { throw GGError("internal", "out of memory for keyframe") }
        let planes: [(width: Int, height: Int, bytes: Int)] = packed ? [(width, height, 3)]
            : [(width, height, 1), (width / 2, height / 2, 1), (width / 2, height / 2, 1)]
        for (index, plane) in planes.enumerated() {
            let (source, sourceStride) = ImageWriter.plane(frame, index)
            let (target, targetStride) = ImageWriter.plane(out, index)
            for y in 0..<plane.height {
                for x in 0..<plane.width {
                    let (tx, ty): (Int, Int)
                    switch degrees {
                    case 90: (tx, ty) = (plane.height - 1 - y, x)
                    case 180: (tx, ty) = (plane.width - 1 - x, plane.height - 1 - y)
                    default: (tx, ty) = (y, plane.width - 1 - x)
                    }
                    for byte in 0..<plane.bytes {
                        target[ty * targetStride + tx * plane.bytes + byte] = source[y * sourceStride + x * plane.bytes + byte]
                    }
                }
            }
        }
        return out
    }

    private static func plane(_ frame: Frame, _ index: Int) -> (UnsafeMutablePointer<UInt8>, Int) {
        let data = withUnsafeBytes(of: frame.pointer.pointee.data) { $0.load(fromByteOffset: index * MemoryLayout<UnsafeMutablePointer<UInt8>>.stride, as: UnsafeMutablePointer<UInt8>.self) }
        let stride = withUnsafeBytes(of: frame.pointer.pointee.linesize) { $0.load(fromByteOffset: index * MemoryLayout<Int32>.stride, as: Int32.self) }
        return (data, Int(stride))
    }
}

/// An owned encoder context for single pictures.
final class Encoder {
    let context: UnsafeMutablePointer<AVCodecContext>

    init(id: AVCodecID, width: Int32, height: Int32, format: AVPixelFormat) throws {
        guard let codec = avcodec_find_encoder(id), let context = avcodec_alloc_context3(codec) else {
            throw GGError("encoder_unavailable", "no \(String(cString: avcodec_get_name(id))) encoder")
        }
        self.context = context
        context.pointee.width = width
        context.pointee.height = height
        context.pointee.pix_fmt = format
        context.pointee.time_base = AVRational(num: 1, den: 25)
        context.pointee.flags |= AV_CODEC_FLAG_QSCALE
        context.pointee.global_quality = 3 * FF_QP2LAMBDA
        let opened = avcodec_open2(context, codec, nil)
        guard opened >= 0 else { throw GGError("internal", "cannot open encoder: \(avErrorString(opened))") }
    }

    deinit {
        var pointer: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&pointer)
    }

    func encode(_ frame: Frame) throws -> Data {
        var out = Data()
        let packet = Packet()
        guard avcodec_send_frame(context, frame.pointer) >= 0 else { throw GGError("internal", "encoder refused the frame") }
        avcodec_send_frame(context, nil)
        while avcodec_receive_packet(context, packet.pointer) >= 0 {
            out.append(packet.pointer.pointee.data, count: Int(packet.pointer.pointee.size))
            packet.unref()
        }
        guard !out.isEmpty else { throw GGError("internal", "encoder produced nothing") }
        return out
    }
}
