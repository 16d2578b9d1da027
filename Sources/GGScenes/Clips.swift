import CFFmpeg
import Foundation
import GGMedia
import GGShared

/// An owned output AVFormatContext.
final class OutputFile {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    private var opened = false

    init(path: String, format: UnsafePointer<AVOutputFormat>) throws {
        var context: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_alloc_output_context2(&context, format, nil, path) >= 0, let context else {
            throw GGError("io", "cannot create clip \(path)")
        }
        pointer = context
        guard avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE) >= 0 else { throw GGError("io", "cannot open clip \(path)") }
        opened = true
    }

    deinit {
        if opened { avio_closep(&pointer.pointee.pb) }
        avformat_free_context(pointer)
    }
}

/// Writes each scene as a stream-copied clip of the source's video and audio, timed by the media clock
/// (so clips start where the scene does whatever the container's start time). Video starts at the last
/// keyframe at or before the cut, found by reading packets (seeking in MPEG-TS lands anywhere, and a clip
/// that began on a B-frame decoded to nothing); its packets before the cut keep negative times, so the MP4
/// edit list makes players start at the cut. Packets from the scene's end on are left out, within the
/// millisecond scene times are rounded to. Streams MP4 cannot hold (Vorbis, Opus in some muxers) make the
/// clip Matroska. A clip that cannot be written is a warning, never the loss of the item's scenes, and
/// leaves no file behind.
enum ClipWriter {
    /// Writes the clips; returns a warning for every scene whose clip failed.
    static func write(scenes: inout [Scene], source: String, dir: URL, itemIndex: Int) -> [String] {
        var warnings = [String]()
        for index in scenes.indices {
            let base = dir.appendingPathComponent("\(itemIndex)-scene-\(String(format: "%03d", index))").path
            do {
                scenes[index].clip = try writeClip(source: source, from: scenes[index].start, to: scenes[index].end, base: base)
            } catch let error as GGError {
                warnings.append("scene \(index): no clip: \(error.message)")
            } catch {
                warnings.append("scene \(index): no clip: \(error)")
            }
        }
        return warnings
    }

    /// The container for the source's streams: MP4 when it can hold every one, else Matroska.
    static func container(for input: FormatContext) -> (format: UnsafePointer<AVOutputFormat>, ext: String)? {
        guard let mp4 = av_guess_format("mp4", nil, nil), let matroska = av_guess_format("matroska", nil, nil) else { return nil }
        let fits = (0..<input.streamCount).allSatisfy { index in
            let parameters = input.stream(index).pointee.codecpar.pointee
            guard parameters.codec_type == AVMEDIA_TYPE_VIDEO || parameters.codec_type == AVMEDIA_TYPE_AUDIO else { return true }
            return avformat_query_codec(mp4, parameters.codec_id, FF_COMPLIANCE_NORMAL) == 1
        }
        return fits ? (mp4, "mp4") : (matroska, "mkv")
    }

    private static func writeClip(source: String, from start: Double, to end: Double, base: String) throws -> String {
        let input = try FormatContext(path: source)
        guard let (format, ext) = container(for: input) else { throw GGError("encoder_unavailable", "no MP4 or Matroska muxer") }
        let path = base + "." + ext
        let temp = path + ".tmp." + ext
        defer { unlink(temp) }
        let clock = MediaClock(input)
        do {
            let output = try OutputFile(path: temp, format: format)
            var mapping = [Int: Int32]()
            for i in 0..<input.streamCount {
                let inStream = input.stream(i)
                let type = inStream.pointee.codecpar.pointee.codec_type
                guard type == AVMEDIA_TYPE_VIDEO || type == AVMEDIA_TYPE_AUDIO, let outStream = avformat_new_stream(output.pointer, nil) else { continue }
                avcodec_parameters_copy(outStream.pointee.codecpar, inStream.pointee.codecpar)
                outStream.pointee.codecpar.pointee.codec_tag = 0
                gg_copy_display_matrix(inStream, outStream)
                mapping[i] = outStream.pointee.index
            }
            let header = avformat_write_header(output.pointer, nil)
            guard header >= 0 else { throw GGError("unsupported_codec", "cannot write a clip of these streams: \(avErrorString(header))") }
            let video = mapping.keys.sorted().first { input.stream($0).pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }
            let keyframe = video.flatMap { keyframeTime(input, stream: $0, clock: clock, atOrBefore: start) }
            seek(input, clock: clock, to: (keyframe ?? start) - 1)
            var videoStarted = video == nil
            let packet = Packet()
            var written = 0
            while input.read(into: packet) >= 0 {
                defer { packet.unref() }
                let source = Int(packet.pointer.pointee.stream_index)
                guard let target = mapping[source] else { continue }
                let inStream = input.stream(source)
                let pts = packet.pointer.pointee.pts == gg_av_nopts_value() ? packet.pointer.pointee.dts : packet.pointer.pointee.pts
                guard let time = clock.seconds(pts, inStream.pointee.time_base) else { continue }
                let isVideo = inStream.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
                if time >= end + 1 && isVideo { break }
                if time >= end - ClipWriter.timeTolerance || (time < start - ClipWriter.timeTolerance && !isVideo) { continue }
                if isVideo && !videoStarted {
                    guard packet.pointer.pointee.flags & AV_PKT_FLAG_KEY != 0, time >= (keyframe ?? start) - ClipWriter.timeTolerance else { continue }
                    videoStarted = true
                }
                let offset = clock.timestamp(start - ClipWriter.timeTolerance, inStream.pointee.time_base)
                if packet.pointer.pointee.pts != gg_av_nopts_value() { packet.pointer.pointee.pts -= offset }
                if packet.pointer.pointee.dts != gg_av_nopts_value() { packet.pointer.pointee.dts -= offset }
                let outStream = output.pointer.pointee.streams[Int(target)]!
                av_packet_rescale_ts(packet.pointer, inStream.pointee.time_base, outStream.pointee.time_base)
                packet.pointer.pointee.stream_index = target
                packet.pointer.pointee.pos = -1
                if av_interleaved_write_frame(output.pointer, packet.pointer) >= 0 { written += 1 }
            }
            guard av_write_trailer(output.pointer) >= 0, written > 0 else { throw GGError("not_media", "no packets for \(roundedSeconds(start))-\(roundedSeconds(end)) s") }
        }
        guard rename(temp, path) == 0 else { throw GGError("io", "cannot place clip \(path)") }
        return path
    }

    /// Scene times are rounded to the millisecond: a packet this close to a scene's end belongs to the next scene.
    static let timeTolerance = 0.001

    /// Seeks to at or before `seconds`. At or before the start of an MPEG transport or program stream it goes
    /// to the first byte (a timestamp seek there lands inside the first picture's packet, which is then lost).
    private static func seek(_ input: FormatContext, clock: MediaClock, to seconds: Double) {
        let name = input.pointer.pointee.iformat.map { String(cString: $0.pointee.name) } ?? ""
        if seconds <= 0, name == "mpegts" || name == "mpeg", av_seek_frame(input.pointer, -1, 0, AVSEEK_FLAG_BYTE) >= 0 { return }
        let target = clock.timestamp(max(0, seconds), AVRational(num: 1, den: gg_av_time_base()))
        if avformat_seek_file(input.pointer, -1, Int64.min, target, target, 0) < 0,
           av_seek_frame(input.pointer, -1, target, AVSEEK_FLAG_BACKWARD) < 0 {
            av_seek_frame(input.pointer, -1, 0, AVSEEK_FLAG_BYTE)
        }
    }

    /// The media time of the last keyframe of `stream` at or before `time`, read from the packets after a
    /// seek further and further back; nil when none is found (the clip then starts at the next keyframe).
    static func keyframeTime(_ input: FormatContext, stream: Int, clock: MediaClock, atOrBefore time: Double) -> Double? {
        let timeBase = input.stream(stream).pointee.time_base
        let packet = Packet()
        for margin in [0.0, 2, 8, 30, 120, 600] {
            seek(input, clock: clock, to: time - margin)
            var found: Double?
            var read = 0
            while input.read(into: packet) >= 0 {
                defer { packet.unref() }
                guard Int(packet.pointer.pointee.stream_index) == stream else { continue }
                let dts = packet.pointer.pointee.dts == gg_av_nopts_value() ? packet.pointer.pointee.pts : packet.pointer.pointee.dts
                let pts = packet.pointer.pointee.pts == gg_av_nopts_value() ? dts : packet.pointer.pointee.pts
                guard let presented = clock.seconds(pts, timeBase) else { continue }
                if packet.pointer.pointee.flags & AV_PKT_FLAG_KEY != 0 && presented <= time + timeTolerance { found = presented }
                read += 1
                if let decoded = clock.seconds(dts, timeBase), decoded > time + 1 || read > 100_000 { break }
            }
            if let found { return found }
            if time - margin <= 0 { break }
        }
        return nil
    }
}
