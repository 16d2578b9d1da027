import CFFmpeg
import Foundation
import GGShared

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

extension MediaLimits {
    /// Throws `bad_media` for audio parameters no real recording has.
    public static func checkAudio(_ parameters: AVCodecParameters) throws {
        guard sampleRates.contains(parameters.sample_rate) else {
            throw GGError("bad_media", "implausible audio sample rate \(parameters.sample_rate) Hz")
        }
        guard channels.contains(parameters.ch_layout.nb_channels) else {
            throw GGError("bad_media", "implausible audio channel count \(parameters.ch_layout.nb_channels)")
        }
    }

    /// Fewest bytes a second of real audio takes (silence in FLAC or Opus takes more).
    public static let minAudioBytesPerSecond = 20.0

    /// Throws `bad_media` when a file without video claims far more audio than its size can hold
    /// (a FLAC whose STREAMINFO says 1 Hz claimed 15 hours in 65 KB).
    public static func checkAudioDuration(_ file: FormatContext, path: String) throws {
        guard file.bestStream(AVMEDIA_TYPE_VIDEO) == nil, let duration = file.duration, duration > 60 else { return }
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        if Double(info.st_size) / duration < minAudioBytesPerSecond {
            throw GGError("bad_media", "the file claims \(Int(duration)) s of audio in \(info.st_size) bytes")
        }
    }
}

/// An opened media file (AVFormatContext) with its stream information read; only the demuxers of
/// `MediaLimits.formats` are tried, only local files opened, and decoders probing it keep to the pixel limit.
public final class FormatContext {
    public let pointer: UnsafeMutablePointer<AVFormatContext>

    public init(path: String) throws {
        gg_av_log_quiet()
        var context: UnsafeMutablePointer<AVFormatContext>?
        var options: OpaquePointer?
        av_dict_set(&options, "protocol_whitelist", "file", 0)
        av_dict_set(&options, "format_whitelist", MediaLimits.formats, 0)
        let opened = avformat_open_input(&context, path, nil, &options)
        av_dict_free(&options)
        guard opened >= 0, let context else {
            throw GGError("not_media", "cannot open as media: \(avErrorString(opened))")
        }
        pointer = context
        for index in 0..<Int(context.pointee.nb_streams) {
            let parameters = context.pointee.streams[index]!.pointee.codecpar.pointee
            if parameters.codec_type == AVMEDIA_TYPE_VIDEO { try MediaLimits.checkPicture(width: parameters.width, height: parameters.height) }
        }
        var perStream = [OpaquePointer?](repeating: nil, count: Int(context.pointee.nb_streams))
        for index in perStream.indices { av_dict_set(&perStream[index], "max_pixels", String(MediaLimits.maxPixels), 0) }
        let info = perStream.withUnsafeMutableBufferPointer { avformat_find_stream_info(context, $0.baseAddress) }
        for index in perStream.indices { av_dict_free(&perStream[index]) }
        if info < 0 { throw GGError("not_media", "cannot read stream information: \(avErrorString(info))") }
        for index in 0..<Int(context.pointee.nb_streams) {
            let parameters = context.pointee.streams[index]!.pointee.codecpar.pointee
            if parameters.codec_type == AVMEDIA_TYPE_VIDEO { try MediaLimits.checkPicture(width: parameters.width, height: parameters.height) }
        }
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

/// Media time, the one definition every stage uses: seconds from the start of the container's
/// presentation, `pts * time_base - start_time` with the format's start_time (0 when it has none).
/// Scenes, keyframes, clips and transcripts all count from this origin.
public struct MediaClock: Sendable {
    /// The format's start_time in seconds.
    public let origin: Double

    public init(_ file: FormatContext) {
        let start = file.pointer.pointee.start_time
        origin = start == gg_av_nopts_value() ? 0 : Double(start) / Double(gg_av_time_base())
    }

    /// Seconds of media time of a timestamp in `timeBase`; nil for AV_NOPTS_VALUE.
    public func seconds(_ timestamp: Int64, _ timeBase: AVRational) -> Double? {
        timestamp == gg_av_nopts_value() ? nil : Double(timestamp) * av_q2d(timeBase) - origin
    }

    /// The timestamp in `timeBase` of a media time.
    public func timestamp(_ seconds: Double, _ timeBase: AVRational) -> Int64 {
        Int64(((seconds + origin) / av_q2d(timeBase)).rounded())
    }
}

/// How a video stream's pictures are shown: turned by its display matrix (phone videos) and stretched
/// by its sample aspect ratio. Keyframes and reported sizes follow it, as players do.
public struct DisplayGeometry: Sendable, Equatable {
    /// Clockwise degrees: 0, 90, 180 or 270.
    public var rotation: Int
    /// Width multiplier from the sample aspect ratio (1 for square pixels).
    public var sampleAspect: Double

    public init(rotation: Int = 0, sampleAspect: Double = 1) {
        self.rotation = rotation
        self.sampleAspect = sampleAspect
    }

    public init(stream: UnsafeMutablePointer<AVStream>) {
        rotation = Int(gg_stream_rotation(stream))
        let sar = stream.pointee.codecpar.pointee.sample_aspect_ratio
        let ratio = sar.num > 0 && sar.den > 0 ? Double(sar.num) / Double(sar.den) : 1
        sampleAspect = ratio > 0.1 && ratio < 10 ? ratio : 1
    }

    /// The size a player shows for coded pictures of `width` x `height`.
    public func displaySize(width: Int, height: Int) -> (width: Int, height: Int) {
        let shown = Int((Double(width) * sampleAspect).rounded())
        return rotation % 180 == 0 ? (shown, height) : (height, shown)
    }
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
public final class MediaDecoder {
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
        context.pointee.max_pixels = Int64(MediaLimits.maxPixels)
        if context.pointee.codec_type == AVMEDIA_TYPE_AUDIO { try MediaLimits.checkAudio(stream.pointee.codecpar.pointee) }
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
            let shown = DisplayGeometry(stream: file.stream(video)).displaySize(width: Int(parameters.width), height: Int(parameters.height))
            width = shown.width
            height = shown.height
            let codec = String(cString: avcodec_get_name(parameters.codec_id))
            isImage = imageFormats.contains(file.formatName) || (audio == nil && imageCodecs.contains(codec) && file.stream(video).pointee.nb_frames <= 1 && (file.duration ?? 0) < 0.1)
        }
        if let audio {
            let parameters = file.stream(audio).pointee.codecpar.pointee
            if video == nil && (parameters.sample_rate <= 0 || parameters.ch_layout.nb_channels <= 0) {
                throw GGError("not_media", "audio stream has no sample format")
            }
            try MediaLimits.checkAudio(parameters)
            try MediaLimits.checkAudioDuration(file, path: path)
        }
        guard video != nil || audio != nil else { throw GGError("not_media", "no audio or video stream") }
        let type: ItemType = isImage ? .image : (video != nil ? .video : .audio)
        let duration = type == .image ? nil : file.duration.map(roundedSeconds)
        return MediaProbe(type: type, format: file.formatName, duration: duration, width: width, height: height, hasAudio: audio != nil && !isImage)
    }
}
