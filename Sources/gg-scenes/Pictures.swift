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

/// Scales decoded frames to a small RGB picture for analysis.
final class AnalysisScaler {
    let width: Int
    private let scaler = Scaler()
    private var buffer = [UInt8]()
    private var columns: [(Int, Int, Int)] = []
    private var columnsForWidth = 0
    private(set) var height = 0

    init(width: Int) { self.width = width }

    /// Width of an HSV picture this scaler made (its three planes are `height` rows).
    func width(of hsv: [UInt8]) -> Int { height > 0 ? hsv.count / 3 / height : 0 }

    func hsv(of frame: UnsafeMutablePointer<AVFrame>, into hsv: inout [UInt8]) throws -> Double {
        let w = min(width, Int(frame.pointee.width))
        var h = max(2, Int((Double(frame.pointee.height) * Double(w) / Double(max(frame.pointee.width, 1))).rounded()))
        h -= h % 2
        height = h
        let stride = w * 3
        if buffer.count != stride * h { buffer = [UInt8](repeating: 0, count: stride * h) }
        let format = AVPixelFormat(frame.pointee.format)
        if (format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P) && Int(frame.pointee.width) >= 4 * w {
            sampleYUV420(frame, width: w, height: h)
        } else {
            try buffer.withUnsafeMutableBufferPointer { out in
                var planes: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
                var strides: [Int32] = [Int32(stride), 0, 0, 0]
                try scaler.scale(frame, width: Int32(w), height: Int32(h), format: AV_PIX_FMT_RGB24, destination: &planes, strides: &strides)
            }
        }
        return buffer.withUnsafeBufferPointer { rgbToHSV($0.baseAddress!, width: w, height: h, stride: stride, into: &hsv) }
    }

    /// Downsamples a large 4:2:0 frame to RGB by averaging four spread luma samples and one
    /// chroma sample per output pixel: several times cheaper than a full area scale, with
    /// little aliasing at the sizes used for analysis.
    private func sampleYUV420(_ frame: UnsafeMutablePointer<AVFrame>, width w: Int, height h: Int) {
        let srcW = Int(frame.pointee.width), srcH = Int(frame.pointee.height)
        let y = frame.pointee.data.0!, u = frame.pointee.data.1!, v = frame.pointee.data.2!
        let ys = Int(frame.pointee.linesize.0), us = Int(frame.pointee.linesize.1), vs = Int(frame.pointee.linesize.2)
        let full = frame.pointee.color_range == AVCOL_RANGE_JPEG || AVPixelFormat(frame.pointee.format) == AV_PIX_FMT_YUVJ420P
        if columns.count != w || columnsForWidth != srcW {
            columns = (0..<w).map { ox in
                let x0 = (ox * srcW) / w, x1 = ((ox + 1) * srcW) / w
                return (x0 + (x1 - x0) / 4, x0 + 3 * (x1 - x0) / 4, min((x0 + x1) / 2, srcW - 1) / 2)
            }
            columnsForWidth = srcW
        }
        let bias = full ? 0 : 16, scale = full ? 256 : 298, chromaScale = full ? 256 : 292
        columns.withUnsafeBufferPointer { cols in
            buffer.withUnsafeMutableBufferPointer { out in
                var o = 0
                for oy in 0..<h {
                    let y0 = (oy * srcH) / h, y1 = ((oy + 1) * srcH) / h
                    let rowA = y + (y0 + (y1 - y0) / 4) * ys, rowB = y + (y0 + 3 * (y1 - y0) / 4) * ys
                    let yc = min((y0 + y1) / 2, srcH - 1) / 2
                    let rowU = u + yc * us, rowV = v + yc * vs
                    for (xa, xb, xc) in cols {
                        let sum = Int(rowA[xa]) &+ Int(rowA[xb]) &+ Int(rowB[xa]) &+ Int(rowB[xb])
                        let luma = (((sum &+ 2) >> 2) &- bias) &* scale >> 8
                        let cb = (Int(rowU[xc]) &- 128) &* chromaScale >> 8
                        let cr = (Int(rowV[xc]) &- 128) &* chromaScale >> 8
                        out[o] = UInt8(clamping: luma &+ ((359 &* cr) >> 8))
                        out[o &+ 1] = UInt8(clamping: luma &- ((88 &* cb &+ 183 &* cr) >> 8))
                        out[o &+ 2] = UInt8(clamping: luma &+ ((454 &* cb) >> 8))
                        o &+= 3
                    }
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
