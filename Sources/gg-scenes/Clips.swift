import CFFmpeg
import Foundation
import GGShared

/// An owned output AVFormatContext.
final class OutputFile {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    private var opened = false

    init(path: String) throws {
        var context: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_alloc_output_context2(&context, nil, nil, path) >= 0, let context else {
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

/// Writes each scene as a stream-copied clip of the source's video and audio. Video packets
/// from the keyframe before the cut are kept with negative times, so the MP4 edit list makes
/// players start at the cut.
enum ClipWriter {
    static func write(scenes: inout [Scene], source: String, streamIndex: Int, dir: URL, itemIndex: Int) throws {
        for index in scenes.indices {
            let path = dir.appendingPathComponent("\(itemIndex)-scene-\(String(format: "%03d", index)).mp4").path
            try writeClip(source: source, from: scenes[index].start, to: scenes[index].end, path: path)
            scenes[index].clip = path
        }
    }

    private static func writeClip(source: String, from start: Double, to end: Double, path: String) throws {
        let input = try FormatContext(path: source)
        let temp = path + ".tmp.mp4"
        defer { unlink(temp) }
        do {
            let output = try OutputFile(path: temp)
            var mapping = [Int: Int32]()
            for i in 0..<input.streamCount {
                let inStream = input.stream(i)
                let type = inStream.pointee.codecpar.pointee.codec_type
                guard type == AVMEDIA_TYPE_VIDEO || type == AVMEDIA_TYPE_AUDIO, let outStream = avformat_new_stream(output.pointer, nil) else { continue }
                avcodec_parameters_copy(outStream.pointee.codecpar, inStream.pointee.codecpar)
                outStream.pointee.codecpar.pointee.codec_tag = 0
                mapping[i] = outStream.pointee.index
            }
            guard avformat_write_header(output.pointer, nil) >= 0 else { throw GGError("io", "cannot write clip header") }
            av_seek_frame(input.pointer, -1, Int64(start * Double(gg_av_time_base())), AVSEEK_FLAG_BACKWARD)
            let packet = Packet()
            var offsets = [Int: Int64]()
            while input.read(into: packet) >= 0 {
                defer { packet.unref() }
                let source = Int(packet.pointer.pointee.stream_index)
                guard let target = mapping[source] else { continue }
                let inStream = input.stream(source)
                let timeBase = av_q2d(inStream.pointee.time_base)
                let pts = packet.pointer.pointee.pts == gg_av_nopts_value() ? packet.pointer.pointee.dts : packet.pointer.pointee.pts
                let time = Double(pts) * timeBase
                let isVideo = inStream.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
                if time >= end + 1 && isVideo { break }
                if time >= end || (time < start && !isVideo) { continue }
                let offset = offsets[source] ?? Int64((start / timeBase).rounded())
                offsets[source] = offset
                packet.pointer.pointee.pts -= offset
                packet.pointer.pointee.dts -= offset
                let outStream = output.pointer.pointee.streams[Int(target)]!
                av_packet_rescale_ts(packet.pointer, inStream.pointee.time_base, outStream.pointee.time_base)
                packet.pointer.pointee.stream_index = target
                packet.pointer.pointee.pos = -1
                av_interleaved_write_frame(output.pointer, packet.pointer)
            }
            av_write_trailer(output.pointer)
        }
        guard rename(temp, path) == 0 else { throw GGError("io", "cannot place clip \(path)") }
    }
}
