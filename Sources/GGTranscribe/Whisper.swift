import CWhisper
import Foundation
import GGShared

/// A whisper.cpp model loaded with its library; shared by the decoders of every worker.
final class WhisperModel: @unchecked Sendable {
    fileprivate let handle: OpaquePointer
    let multilingual: Bool
    let library: WhisperLibrary
    let path: String

    init(library: WhisperLibrary, model: String) throws {
        var message = [CChar](repeating: 0, count: 1024)
        guard let handle = gg_whisper_open(library.path, model, &message, message.count) else {
            throw GGError("engine_unavailable", WhisperLibrary.text(message))
        }
        self.handle = handle
        self.library = library
        path = model
        multilingual = gg_whisper_multilingual(handle)
    }

    deinit { gg_whisper_close(handle) }

    static var compiled: Bool { gg_whisper_compiled() }
}

/// Decodes chunks with a model shared by every worker, one chunk at a time.
final class WhisperDecoder {
    private let model: WhisperModel

    init(model: WhisperModel) {
        self.model = model
    }

    /// What whisper made of one chunk.
    struct Result {
        /// Segments with absolute times.
        var segments: [Segment]
        /// The language whisper used, and its detected probability (nil when it was given).
        var language: String
        var languageProbability: Double?
        /// With `stopEarly`, the audio after the last segment when whisper wanted another window for it.
        var rest: SpeechChunk?
        /// The run stopped at its decoding budget: the audio after its last segment was not transcribed.
        var budgetExhausted: Bool
    }

    /// Decodes one chunk. Each chunk gets a new decoding state: with whisper.cpp as released, a reused one made
    /// a chunk's text depend on the chunks decoded before it (its beam search draws from the state's random
    /// generator).
    func transcribe(_ chunk: SpeechChunk, threads: Int, language: String, beam: Int, stepBudget: Int, noSpeechThreshold: Float,
                    stopEarly: Bool, cancellation: Cancellation) throws -> Result {
        guard let state = gg_whisper_state_new(model.handle) else {
            throw GGError("engine_unavailable", "whisper cannot allocate a decoding state")
        }
        defer { gg_whisper_state_free(model.handle, state) }
        var stoppedAt = -1.0
        var probability: Float = -1
        var exhausted = false
        let status = chunk.samples.withUnsafeBufferPointer {
            gg_whisper_run(model.handle, state, $0.baseAddress, Int32($0.count), Int32(threads), language, Int32(beam), stepBudget, stopEarly,
                           &stoppedAt, &probability, &exhausted, cancellation.flag)
        }
        try cancellation.check()
        guard status == 0 else { throw GGError("engine_failed", "whisper failed on the audio at \(roundedSeconds(chunk.start)) s (status \(status))") }
        var segments = [Segment]()
        for i in 0..<gg_whisper_segment_count(model.handle, state) {
            let text = String(cString: gg_whisper_segment_text(model.handle, state, i)).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !WhisperDecoder.isAnnotation(text), !Repetition.isRunaway(text),
                  gg_whisper_segment_no_speech(model.handle, state, i) <= noSpeechThreshold else { continue }
            if segments.count >= 2, segments.suffix(2).allSatisfy({ $0.text == text }) { continue }
            let start = chunk.start + gg_whisper_segment_start(model.handle, state, i)
            let end = max(start, chunk.start + gg_whisper_segment_end(model.handle, state, i))
            guard let bounds = chunk.snap(start, end) else { continue }
            segments.append(Segment(start: roundedSeconds(bounds.start), end: roundedSeconds(bounds.end), text: text))
        }
        return Result(segments: segments, language: String(cString: gg_whisper_language(model.handle, state)),
                      languageProbability: probability < 0 ? nil : (Double(probability) * 1000).rounded() / 1000,
                      rest: stoppedAt < 0 || exhausted ? nil : chunk.rest(after: stoppedAt), budgetExhausted: exhausted)
    }

    /// Empty text, symbols only ("♪♪"), or a bracketed sound description such as "[BLANK_AUDIO]" or "(music)": not speech.
    static func isAnnotation(_ text: String) -> Bool {
        if !text.unicodeScalars.contains(where: CharacterSet.alphanumerics.contains) { return true }
        let stripped = text.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters).subtracting(CharacterSet(charactersIn: "[]()*♪")))
        if stripped.isEmpty { return true }
        let pairs: [(Character, Character)] = [("[", "]"), ("(", ")"), ("*", "*"), ("♪", "♪")]
        return pairs.contains { stripped.first == $0.0 && stripped.last == $0.1 && !stripped.dropFirst().dropLast().contains($0.1) }
    }
}

/// Text a decoder produced by looping: the same few words (or, without spaces, characters) over and over.
enum Repetition {
    /// Share of distinct n-grams under which a text counts as a loop: natural speech repeats few of its word
    /// triples, a decoder stuck on one phrase repeats nearly all of them.
    static let minimumDistinctShare = 0.5

    static func isRunaway(_ text: String) -> Bool {
        let words = text.split(whereSeparator: \.isWhitespace).map { $0.lowercased().trimmingCharacters(in: .punctuationCharacters) }
        let units: [String], n: Int
        if words.count >= 8 {
            (units, n) = (words, 3)
        } else if text.count >= 24 {
            (units, n) = (text.filter { !$0.isWhitespace && !$0.isPunctuation }.map(String.init), 4)
        } else {
            return false
        }
        guard units.count >= n * 3 else { return false }
        let grams = (0...(units.count - n)).map { units[$0..<($0 + n)].joined(separator: " ") }
        return Double(Set(grams).count) / Double(grams.count) < minimumDistinctShare
    }
}
