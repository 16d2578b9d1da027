import CFFmpeg
import Foundation

/// FFmpeg's message for an error code.
public func avErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    return buffer.withUnsafeMutableBufferPointer { String(cString: gg_av_err2str(code, $0.baseAddress, $0.count)) }
}

/// Version strings of the FFmpeg libraries this binary links.
public func ffmpegVersions() -> [String] {
    func text(_ name: String, _ v: UInt32) -> String { "\(name) \(gg_version_major(v)).\(gg_version_minor(v)).\(gg_version_micro(v))" }
    return [text("libavformat", avformat_version()), text("libavcodec", avcodec_version()), text("libavutil", avutil_version()),
            text("libswscale", swscale_version()), text("libswresample", swresample_version())]
}

/// An opened media file (AVFormatContext) with its stream information read.
public final class FormatContext {
    public let pointer: UnsafeMutablePointer<AVFormatContext>

    public init(path: String) throws {
        gg_av_log_quiet()
        var context: UnsafeMutablePointer<AVFormatContext>?
        var options: OpaquePointer?
        av_dict_set(&options, "protocol_whitelist", "file", 0)
        let opened = avformat_open_input(&context, path, nil, &options)
        av_dict_free(&options)
        guard opened >= 0, let context else {
            throw GGError("not_media", "cannot open as media: \(avErrorString(opened))")
        }
        pointer = context
        let info = avformat_find_stream_info(context, nil)
        if info < 0 { throw GGError("not_media", "cannot read stream information: \(avErrorString(info))") }
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&context)
    }

    public var formatName: String { String(cString: pointer.pointee.iformat.pointee.name) }

    public var duration: Double? {
        let d = pointer.pointee.duration
        guard d != gg_av_nopts_value(), d > 0 else { return nil }
        return Double(d) / Double(gg_av_time_base())
    }

    public var streamCount: Int { Int(pointer.pointee.nb_streams) }

    public func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { pointer.pointee.streams[index]! }

    public func bestStream(_ type: AVMediaType) -> Int? {
        let index = av_find_best_stream(pointer, type, -1, -1, nil, 0)
        return index >= 0 ? Int(index) : nil
    }

    /// Reads the next packet; returns FFmpeg's status (negative at end or on error).
    public func read(into packet: Packet) -> Int32 { av_read_frame(pointer, packet.pointer) }
}

/// An owned AVPacket.
public final class Packet {
    public let pointer: UnsafeMutablePointer<AVPacket>

    public init() { pointer = av_packet_alloc() }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
    }

    public func unref() { av_packet_unref(pointer) }
}

/// An owned AVFrame.
public final class Frame {
    public let pointer: UnsafeMutablePointer<AVFrame>

    public init() { pointer = av_frame_alloc() }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
    }

    public func unref() { av_frame_unref(pointer) }

    /// A B picture: with `LoopFilter.skipUnreferenced` possibly not deblocked, so not shown as a keyframe.
    public var isBidirectional: Bool { pointer.pointee.pict_type == AV_PICTURE_TYPE_B }

    /// A new frame that shares this frame's buffers.
    public func reference() -> Frame {
        let copy = Frame()
        av_frame_ref(copy.pointer, pointer)
        return copy
    }
}

/// How much of the H.264/HEVC in-loop deblocking a decoder may skip.
public enum LoopFilter: Sendable {
    /// Every frame is deblocked: pictures exactly as any player shows them.
    case full
    /// Frames no other frame references skip it: referenced frames (all I and P frames) stay exact.
    case skipUnreferenced
    /// No frame is deblocked, and the codec's fast flags are set.
    case skipAll
}

/// A decoder (AVCodecContext) opened for one stream.
public final class Decoder {
    public let pointer: UnsafeMutablePointer<AVCodecContext>

    public init(stream: UnsafeMutablePointer<AVStream>, threads: Int32 = 0, loopFilter: LoopFilter = .full) throws {
        guard let codec = avcodec_find_decoder(stream.pointee.codecpar.pointee.codec_id) else {
            throw GGError("unsupported_codec", "no decoder for \(String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id)))")
        }
        guard let context = avcodec_alloc_context3(codec) else { throw GGError("internal", "out of memory") }
        pointer = context
        guard avcodec_parameters_to_context(context, stream.pointee.codecpar) >= 0 else {
            throw GGError("not_media", "bad codec parameters")
        }
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = threads
        context.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
        switch loopFilter {
        case .full:
            break
        case .skipUnreferenced:
            context.pointee.skip_loop_filter = AVDISCARD_NONREF
        case .skipAll:
            context.pointee.skip_loop_filter = AVDISCARD_ALL
            context.pointee.flags2 |= AV_CODEC_FLAG2_FAST
        }
        let opened = avcodec_open2(context, codec, nil)
        guard opened >= 0 else { throw GGError("unsupported_codec", "cannot open decoder: \(avErrorString(opened))") }
    }

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&context)
    }

    public func send(_ packet: Packet?) -> Int32 { avcodec_send_packet(pointer, packet?.pointer) }

    public func receive(_ frame: Frame) -> Int32 { avcodec_receive_frame(pointer, frame.pointer) }
}

/// What a probe learnt about a media file.
public struct MediaProbe: Sendable, Equatable {
    public var type: ItemType
    public var format: String
    public var duration: Double?
    public var width: Int?
    public var height: Int?
    public var hasAudio: Bool
}

/// Probes media files with libavformat.
public enum MediaProber {
    static let imageFormats: Set<String> = ["image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif_pipe", "jpegls_pipe", "pgm_pipe", "ppm_pipe"]
    static let imageCodecs: Set<String> = ["mjpeg", "png", "webp", "bmp", "tiff", "gif", "jpegls", "pgm", "ppm"]

    public static func probe(path: String) throws -> MediaProbe {
        var info = stat()
        guard stat(path, &info) == 0 else { throw GGError("no_input", "\(path): \(String(cString: strerror(errno)))") }
        guard info.st_size > 0 else { throw GGError("not_media", "file is empty") }
        let file = try FormatContext(path: path)
        let video = file.bestStream(AVMEDIA_TYPE_VIDEO)
        let audio = file.bestStream(AVMEDIA_TYPE_AUDIO)
        var width: Int?
        var height: Int?
        var isImage = false
        if let video {
            let parameters = file.stream(video).pointee.codecpar.pointee
            guard parameters.width > 0, parameters.height > 0 else { throw GGError("not_media", "video stream has no picture size") }
            width = Int(parameters.width)
            height = Int(parameters.height)
            let codec = String(cString: avcodec_get_name(parameters.codec_id))
            isImage = imageFormats.contains(file.formatName) || (audio == nil && imageCodecs.contains(codec) && file.stream(video).pointee.nb_frames <= 1 && (file.duration ?? 0) < 0.1)
        }
        if let audio {
            let parameters = file.stream(audio).pointee.codecpar.pointee
            if video == nil && (parameters.sample_rate <= 0 || parameters.ch_layout.nb_channels <= 0) {
                throw GGError("not_media", "audio stream has no sample format")
            }
        }
        guard video != nil || audio != nil else { throw GGError("not_media", "no audio or video stream") }
        let type: ItemType = isImage ? .image : (video != nil ? .video : .audio)
        let duration = type == .image ? nil : file.duration.map(roundedSeconds)
        return MediaProbe(type: type, format: file.formatName, duration: duration, width: width, height: height, hasAudio: audio != nil && !isImage)
    }
}
