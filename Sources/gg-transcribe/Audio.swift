import CFFmpeg
import Foundation
import GGShared

/// An owned libswresample context converting to 16 kHz mono signed 16-bit samples.
final class Resampler {
    private var context: OpaquePointer?

    init(from decoder: Decoder) throws {
        var output = AVChannelLayout()
        gg_set_mono_layout(&output)
        defer { av_channel_layout_uninit(&output) }
        var input = decoder.pointer.pointee.ch_layout
        if input.nb_channels <= 0 { av_channel_layout_default(&input, 1) }
        let status = swr_alloc_set_opts2(&context, &output, AV_SAMPLE_FMT_S16, Int32(SpeechAudio.sampleRate),
                                         &input, decoder.pointer.pointee.sample_fmt, decoder.pointer.pointee.sample_rate, 0, nil)
        guard status >= 0, let context, swr_init(context) >= 0 else { throw GGError("unsupported_codec", "cannot resample this audio") }
    }

    deinit { swr_free(&context) }

    /// Converts one decoded frame (or flushes with nil) and appends the samples.
    func convert(_ frame: Frame?, into samples: inout [Int16]) {
        let inputCount = frame.map { Int32($0.pointer.pointee.nb_samples) } ?? 0
        let capacity = Int(swr_get_out_samples(context, inputCount)) + 256
        guard capacity > 0 else { return }
        var buffer = [Int16](repeating: 0, count: capacity)
        let produced: Int32 = buffer.withUnsafeMutableBufferPointer { out in
            var outPointer: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: UInt8.self)
            guard let frame else { return swr_convert(context, &outPointer, Int32(capacity), nil, 0) }
            let planes = UnsafeMutableRawPointer(frame.pointer.pointee.extended_data!).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
            return swr_convert(context, &outPointer, Int32(capacity), planes, inputCount)
        }
        if produced > 0 { samples.append(contentsOf: buffer[0..<Int(produced)]) }
    }
}

/// A stretch of speech to recognise, with its absolute start time.
struct Utterance {
    var start: Double
    var samples: [Int16]
}

/// Splits a 16 kHz sample stream into utterances at pauses, using frame energy. Speech that runs
/// past `maxSeconds` without a pause is split at its longest short pause near the end (`splitPoint`),
/// most often between phrases. Memory is bounded by the longest utterance.
struct SpeechSegmenter {
    let thresholdDB: Double
    let maxSeconds: Double
    let pauseSeconds = 0.6
    let padSeconds = 0.25
    private static let frame = SpeechAudio.sampleRate / 100

    private var pending: [Int16] = []
    private var pendingStart = 0
    private var consumed = 0
    private var voicedFrames = 0
    private var silentRun = 0
    private var inSpeech = false
    private var speechStart = 0

    init(thresholdDB: Double, maxSeconds: Double) {
        self.thresholdDB = thresholdDB
        self.maxSeconds = maxSeconds
    }

    static func level(_ samples: ArraySlice<Int16>) -> Double {
        var sum = 0.0
        for s in samples { sum += Double(s) * Double(s) }
        let rms = (sum / Double(max(samples.count, 1))).squareRoot()
        return 20 * log10(max(rms, 1) / 32768)
    }

    /// Adds samples; returns utterances that ended.
    mutating func push(_ samples: [Int16]) -> [Utterance] {
        pending.append(contentsOf: samples)
        var out = [Utterance]()
        let frame = SpeechSegmenter.frame
        let pad = Int(padSeconds * Double(SpeechAudio.sampleRate))
        while consumed + frame <= pendingStart + pending.count {
            let offset = consumed - pendingStart
            let voiced = SpeechSegmenter.level(pending[offset..<offset + frame]) > thresholdDB
            consumed += frame
            if voiced {
                if !inSpeech {
                    inSpeech = true
                    speechStart = max(pendingStart, consumed - frame - pad)
                    voicedFrames = 0
                }
                voicedFrames += 1
                silentRun = 0
            } else if inSpeech {
                silentRun += 1
            }
            let length = Double(consumed - speechStart) / Double(SpeechAudio.sampleRate)
            if inSpeech && Double(silentRun) / 100 >= pauseSeconds {
                if let u = cut(end: min(consumed, consumed - silentRun * frame + pad)) { out.append(u) }
            } else if inSpeech && length >= maxSeconds {
                if let u = split(at: splitPoint()) { out.append(u) }
            } else if !inSpeech {
                let keep = max(0, consumed - pad - pendingStart)
                if keep > SpeechAudio.sampleRate {
                    pending.removeFirst(keep)
                    pendingStart += keep
                }
            }
        }
        return out
    }

    mutating func finish() -> [Utterance] {
        guard inSpeech else { return [] }
        return cut(end: pendingStart + pending.count).map { [$0] } ?? []
    }

    /// Where to split speech that ran too long: the middle of the longest pause-like run of frames
    /// (within 6 dB of the threshold) in its last 40% (at most 10 s), the latest if several are as
    /// long; without one, the quietest frame.
    private func splitPoint() -> Int {
        let frame = SpeechSegmenter.frame
        let frames = max(1, min(1000, (consumed - speechStart) / frame * 2 / 5))
        let levels = (0..<frames).map { k -> Double in
            let end = consumed - (frames - 1 - k) * frame
            return SpeechSegmenter.level(pending[(end - frame - pendingStart)..<(end - pendingStart)])
        }
        let firstFrameStart = consumed - frames * frame
        var bestRun = (start: 0, length: 0), run = 0
        for (k, level) in levels.enumerated() {
            run = level < thresholdDB + 6 ? run + 1 : 0
            if run > 0 && run >= bestRun.length { bestRun = (k - run + 1, run) }
        }
        if bestRun.length > 0 { return firstFrameStart + (bestRun.start * frame) + bestRun.length * frame / 2 }
        let quietest = levels.indices.min { levels[$0] < levels[$1] } ?? frames - 1
        return firstFrameStart + quietest * frame + frame / 2
    }

    /// Ends the utterance at `point` and starts the next one there, without a pause between them.
    private mutating func split(at point: Int) -> Utterance? {
        let from = speechStart - pendingStart
        let to = point - pendingStart
        let utterance = Utterance(start: Double(speechStart) / Double(SpeechAudio.sampleRate), samples: Array(pending[from..<to]))
        pending.removeFirst(to)
        pendingStart += to
        speechStart = point
        voicedFrames = (consumed - point) / SpeechSegmenter.frame
        return utterance
    }

    private mutating func cut(end: Int) -> Utterance? {
        inSpeech = false
        silentRun = 0
        let from = speechStart - pendingStart
        let to = min(pending.count, end - pendingStart)
        let utterance = voicedFrames >= 15 && to > from
            ? Utterance(start: Double(speechStart) / Double(SpeechAudio.sampleRate), samples: Array(pending[from..<to])) : nil
        pending.removeFirst(max(0, to))
        pendingStart += max(0, to)
        return utterance
    }
}

/// Reads a file's best audio stream as 16 kHz mono and hands over utterances as they end.
enum SpeechAudio {
    static let sampleRate = 16000

    /// Returns false when the file has no audio stream.
    static func utterances(path: String, segmenter: SpeechSegmenter, cancellation: Cancellation,
                           _ body: (Utterance) throws -> Void) throws -> Bool {
        let file = try FormatContext(path: path)
        guard let index = file.bestStream(AVMEDIA_TYPE_AUDIO) else { return false }
        try MediaLimits.checkAudioDuration(file, path: path)
        let decoder = try Decoder(stream: file.stream(index), threads: 1)
        let resampler = try Resampler(from: decoder)
        var segmenter = segmenter
        let packet = Packet()
        let frame = Frame()
        var samples = [Int16]()
        var packets = 0
        func drain() throws {
            while decoder.receive(frame) >= 0 {
                resampler.convert(frame, into: &samples)
                frame.unref()
            }
            for u in segmenter.push(samples) { try body(u) }
            samples.removeAll(keepingCapacity: true)
        }
        while file.read(into: packet) >= 0 {
            defer { packet.unref() }
            guard packet.pointer.pointee.stream_index == Int32(index) else { continue }
            _ = decoder.send(packet)
            try drain()
            packets += 1
            if packets % 256 == 0 { try cancellation.check() }
        }
        _ = decoder.send(nil)
        try drain()
        resampler.convert(nil, into: &samples)
        for u in segmenter.push(samples) + segmenter.finish() { try body(u) }
        return true
    }
}
