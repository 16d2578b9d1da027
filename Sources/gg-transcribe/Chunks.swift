import Foundation
import GGShared

/// Audio handed to whisper at once: utterances within one window, silence between them zeroed.
struct SpeechChunk {
    var start: Double
    var samples: [Float] = []
    /// Where the utterances are, in absolute seconds; the rest of the chunk is zeroed silence.
    var voiced: [ClosedRange<Double>] = []

    var end: Double { start + Double(samples.count) / Double(SpeechAudio.sampleRate) }

    /// A segment's bounds moved out of the silence into the utterances it spans (whisper's timestamps
    /// drift at a window that begins in silence); nil when it lies wholly in silence.
    func snap(_ start: Double, _ end: Double) -> (start: Double, end: Double)? {
        let spanned = voiced.filter { $0.upperBound > start && $0.lowerBound < max(end, start + 0.01) }
        guard let first = spanned.first, let last = spanned.last else { return nil }
        return (max(start, first.lowerBound), min(end, last.upperBound))
    }
}

/// Packs consecutive utterances into chunks that fill whisper's 30 s window, silence between them
/// zeroed and times kept: one encoder pass per window, no window decoded twice, and the words around
/// a pause decoded in context. Each chunk is one whisper call, so no text carries over (and no
/// hallucination loops through it) from one window to the next.
struct ChunkPacker {
    let maxSeconds: Double
    private var current: SpeechChunk?

    init(maxSeconds: Double = 29) {
        self.maxSeconds = maxSeconds
    }

    mutating func add(_ utterance: Utterance) -> SpeechChunk? {
        let rate = Double(SpeechAudio.sampleRate)
        let utteranceEnd = utterance.start + Double(utterance.samples.count) / rate
        var finished: SpeechChunk?
        if let chunk = current, utteranceEnd - chunk.start > maxSeconds {
            finished = chunk
            current = nil
        }
        var chunk = current ?? SpeechChunk(start: utterance.start)
        let offset = Int(((utterance.start - chunk.start) * rate).rounded())
        if offset > chunk.samples.count { chunk.samples += [Float](repeating: 0, count: offset - chunk.samples.count) }
        let overlap = chunk.samples.count - offset
        chunk.samples += utterance.samples.dropFirst(max(0, overlap)).map { Float($0) / 32768 }
        chunk.voiced.append(utterance.start...utteranceEnd)
        current = chunk
        return finished
    }

    mutating func finish() -> SpeechChunk? {
        defer { current = nil }
        return current
    }
}
