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
/// (so clips start where the scene does whatever the container's start time). Video packets from the
/// keyframe before the cut are kept with negative times, so the MP4 edit list makes players start at
/// the cut. Streams MP4 cannot hold (Vorbis, say) make the clip Matroska. A clip that cannot be written
/// is a warning, never the loss of the item's scenes, and leaves no file behind.
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
            av_seek_frame(input.pointer, -1, clock.timestamp(start, AVRational(num: 1, den: gg_av_time_base())), AVSEEK_FLAG_BACKWARD)
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
                if time >= end || (time < start && !isVideo) { continue }
                let offset = clock.timestamp(start, inStream.pointee.time_base)
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
}
