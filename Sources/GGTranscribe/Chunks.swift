import Foundation
import GGShared

/// Audio handed to whisper at once: utterances within one window, silence between them zeroed.
struct SpeechChunk {
    var start: Double
    var samples: [Float] = []
    /// Where the utterances are, in absolute seconds; the rest of the chunk is zeroed silence.
    var voiced: [ClosedRange<Double>] = []

    var end: Double { start + Double(samples.count) / Double(SpeechAudio.sampleRate) }

    /// Seconds of utterances in the chunk.
    var voicedSeconds: Double { voiced.reduce(0) { $0 + $1.upperBound - $1.lowerBound } }

    init(start: Double) {
        self.start = start
    }

    init(_ utterance: Utterance) {
        start = utterance.start
        samples = utterance.samples.map { Float($0) / 32768 }
        voiced = [start...end]
    }

    /// Appends later audio at its time, silence zeroed between the two and overlapping samples kept once.
    mutating func append(_ other: SpeechChunk) {
        let offset = Int(((other.start - start) * Double(SpeechAudio.sampleRate)).rounded())
        if offset > samples.count { samples += [Float](repeating: 0, count: offset - samples.count) }
        samples += other.samples.dropFirst(max(0, samples.count - offset))
        voiced += other.voiced
    }

    /// The audio from `seconds` after the start on; nil when no utterance reaches past that point.
    func rest(after seconds: Double) -> SpeechChunk? {
        let count = min(samples.count, max(0, Int((seconds * Double(SpeechAudio.sampleRate)).rounded())))
        var rest = SpeechChunk(start: start + Double(count) / Double(SpeechAudio.sampleRate))
        rest.voiced = voiced.compactMap { $0.upperBound > rest.start ? max(rest.start, $0.lowerBound)...$0.upperBound : nil }
        guard !rest.voiced.isEmpty else { return nil }
        rest.samples = Array(samples[count...])
        return rest
    }

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
/// hallucination loops through it) from one window to the next. Audio whisper left undecoded at the
/// end of a chunk is carried to the front of the next one instead of costing a window of its own.
struct ChunkPacker {
    let maxSeconds: Double
    private var current: SpeechChunk?

    init(maxSeconds: Double = 29) {
        self.maxSeconds = maxSeconds
    }

    mutating func add(_ utterance: Utterance) -> SpeechChunk? {
        let piece = SpeechChunk(utterance)
        var finished: SpeechChunk?
        if let chunk = current, piece.end - chunk.start > maxSeconds {
            finished = chunk
            current = nil
        }
        if current == nil { current = piece } else { current!.append(piece) }
        return finished
    }

    /// Puts audio left undecoded before the chunk being packed; returns it when the two do not fit in one
    /// window, to be decoded on its own.
    mutating func carry(_ rest: SpeechChunk) -> SpeechChunk? {
        guard let chunk = current else {
            current = rest
            return nil
        }
        guard chunk.end - rest.start <= maxSeconds else { return rest }
        var joined = rest
        joined.append(chunk)
        current = joined
        return nil
    }

    mutating func finish() -> SpeechChunk? {
        defer { current = nil }
        return current
    }
}
