import CFFmpeg
import Foundation
import GGMedia
import GGShared

/// An owned libswresample context converting decoded frames to 16 kHz mono signed 16-bit samples.
/// It is configured from each frame (swr_config_frame), so a stream whose sample format, rate or
/// channel layout changes midway (concatenated MPEG-TS) is followed instead of misread.
final class Resampler {
    private var context: OpaquePointer?
    private let output = Frame()
    private var inputFormat: (format: Int32, rate: Int32, layout: AVChannelLayout)?

    init() throws {
        context = swr_alloc()
        guard context != nil else { throw GGError("internal", "out of memory for the resampler") }
    }

    deinit {
        if var layout = inputFormat?.layout { av_channel_layout_uninit(&layout) }
        swr_free(&context)
    }

    private func prepareOutput() {
        output.unref()
        output.pointer.pointee.format = AV_SAMPLE_FMT_S16.rawValue
        output.pointer.pointee.sample_rate = Int32(SpeechAudio.sampleRate)
        gg_set_mono_layout(&output.pointer.pointee.ch_layout)
    }

    /// Reconfigures the resampler when `frame`'s format differs from the previous frame's.
    private func follow(_ frame: Frame) throws {
        let channels = max(1, frame.pointer.pointee.ch_layout.nb_channels)
        if frame.pointer.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame.pointer.pointee.ch_layout.nb_channels <= 0 {
            av_channel_layout_uninit(&frame.pointer.pointee.ch_layout)
            av_channel_layout_default(&frame.pointer.pointee.ch_layout, channels)
        }
        let input = frame.pointer.pointee
        if let known = inputFormat, known.format == input.format, known.rate == input.sample_rate {
            var layout = known.layout
            if av_channel_layout_compare(&layout, &frame.pointer.pointee.ch_layout) == 0 { return }
        }
        guard MediaLimits.sampleRates.contains(input.sample_rate) else {
            throw GGError("bad_media", "implausible audio sample rate \(input.sample_rate) Hz midway")
        }
        swr_close(context)
        prepareOutput()
        guard swr_config_frame(context, output.pointer, frame.pointer) >= 0, swr_init(context) >= 0 else {
            throw GGError("unsupported_codec", "cannot resample this audio")
        }
        if var old = inputFormat?.layout { av_channel_layout_uninit(&old) }
        var copy = AVChannelLayout()
        av_channel_layout_copy(&copy, &frame.pointer.pointee.ch_layout)
        inputFormat = (input.format, input.sample_rate, copy)
    }

    /// Converts one decoded frame (or flushes with nil) and appends the samples.
    func convert(_ frame: Frame?, into samples: inout [Int16]) throws {
        if let frame { try follow(frame) }
        guard inputFormat != nil else { return }
        prepareOutput()
        let status = swr_convert_frame(context, output.pointer, frame?.pointer)
        guard status >= 0 else { throw GGError("unsupported_codec", "cannot resample this audio: \(avErrorString(status))") }
        let count = Int(output.pointer.pointee.nb_samples)
        guard count > 0, let data = output.pointer.pointee.data.0 else { return }
        data.withMemoryRebound(to: Int16.self, capacity: count) { samples.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
    }
}

/// A stretch of speech to recognise, with its absolute start time.
struct Utterance {
    var start: Double
    var samples: [Int16]
}

/// Splits a 16 kHz sample stream into utterances at pauses, using frame energy. A frame is sound when
/// it is above `thresholdDB` and, with the adaptive gate, `marginDB` above the background: the 10th
/// percentile of the last 4 s of frame levels, so that speech over steady noise or a music bed is cut
/// where it starts and stops. Speech that runs past `maxSeconds` without a pause is split at its
/// longest short pause near the end (`splitPoint`), most often between phrases. Memory is bounded by the
/// longest utterance.
struct SpeechSegmenter {
    let thresholdDB: Double
    let maxSeconds: Double
    /// Follow the background level (off when a fixed --vad-threshold is asked for).
    var adaptive = true
    let marginDB = 8.0
    let pauseSeconds = 0.6
    let padSeconds = 0.25
    private static let frame = SpeechAudio.sampleRate / 100
    private static let historyFrames = 400

    private var history: [Double] = []
    private var historyNext = 0
    private var floorDB = -Double.infinity

    private var pending: [Int16] = []
    private var pendingStart = 0
    private var consumed = 0
    private var voicedFrames = 0
    private var silentRun = 0
    private var inSpeech = false
    private var speechStart = 0

    init(thresholdDB: Double, maxSeconds: Double, adaptive: Bool = true) {
        self.thresholdDB = thresholdDB
        self.maxSeconds = maxSeconds
        self.adaptive = adaptive
    }

    /// The level a frame must pass to count as sound now.
    var gateDB: Double { max(thresholdDB, floorDB + marginDB) }

    /// Remembers a frame's level and re-estimates the background: every frame in the first 0.5 s (so that
    /// noise at the very start is not taken for speech), then every 10 frames.
    private mutating func observe(_ level: Double) {
        guard adaptive else { return }
        if history.count < SpeechSegmenter.historyFrames {
            history.append(level)
        } else {
            history[historyNext] = level
        }
        historyNext = (historyNext + 1) % SpeechSegmenter.historyFrames
        guard history.count < 50 || historyNext % 10 == 0 else { return }
        let sorted = history.sorted()
        floorDB = sorted[sorted.count / 10]
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
            let level = SpeechSegmenter.level(pending[offset..<offset + frame])
            observe(level)
            let voiced = level > gateDB
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
            run = level < gateDB + 6 ? run + 1 : 0
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
        let stream = file.stream(index)
        let decoder = try MediaDecoder(stream: stream, threads: 1)
        let resampler = try Resampler()
        let clock = MediaClock(file)
        var segmenter = segmenter
        let packet = Packet()
        let frame = Frame()
        var samples = [Int16]()
        var packets = 0
        var position = 0
        let rate = Double(sampleRate)
        /// Samples go where their frame's timestamp says: silence fills a late start or a gap, so
        /// transcript times are media times.
        func place(_ frame: Frame) throws {
            if let time = clock.seconds(frame.pointer.pointee.best_effort_timestamp, stream.pointee.time_base) {
                let expected = Int((time * rate).rounded())
                var gap = expected - position - samples.count
                while gap > sampleRate / 20 {
                    let chunk = min(gap, sampleRate)
                    samples += [Int16](repeating: 0, count: chunk)
                    gap -= chunk
                    if samples.count >= sampleRate { try flush() }
                }
            }
            try resampler.convert(frame, into: &samples)
        }
        func flush() throws {
            position += samples.count
            for u in segmenter.push(samples) { try body(u) }
            samples.removeAll(keepingCapacity: true)
            try cancellation.check()
        }
        func drain() throws {
            while decoder.receive(frame) >= 0 {
                defer { frame.unref() }
                try place(frame)
            }
            try flush()
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
        try resampler.convert(nil, into: &samples)
        for u in segmenter.push(samples) + segmenter.finish() { try body(u) }
        return true
    }
}
