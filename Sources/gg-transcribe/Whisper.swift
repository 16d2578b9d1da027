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

    /// Segments of one chunk with absolute times, the language whisper used and, with `stopEarly`, the audio
    /// after the last segment when whisper wanted another window for it. Each chunk gets a new decoding
    /// state: with whisper.cpp as released, a reused one made a chunk's text depend on the chunks decoded
    /// before it (its beam search draws from the state's random generator).
    func transcribe(_ chunk: SpeechChunk, threads: Int, language: String, beam: Int, noSpeechThreshold: Float, stopEarly: Bool,
                    cancellation: Cancellation) throws -> (segments: [Segment], language: String, rest: SpeechChunk?) {
        guard let state = gg_whisper_state_new(model.handle) else {
            throw GGError("engine_unavailable", "whisper cannot allocate a decoding state")
        }
        defer { gg_whisper_state_free(model.handle, state) }
        var stoppedAt = -1.0
        let status = chunk.samples.withUnsafeBufferPointer {
            gg_whisper_run(model.handle, state, $0.baseAddress, Int32($0.count), Int32(threads), language, Int32(beam), stopEarly, &stoppedAt,
                           cancellation.flag)
        }
        try cancellation.check()
        guard status == 0 else { throw GGError("engine_failed", "whisper failed on the audio at \(roundedSeconds(chunk.start)) s (status \(status))") }
        var segments = [Segment]()
        for i in 0..<gg_whisper_segment_count(model.handle, state) {
            let text = String(cString: gg_whisper_segment_text(model.handle, state, i)).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !WhisperDecoder.isAnnotation(text), gg_whisper_segment_no_speech(model.handle, state, i) <= noSpeechThreshold else { continue }
            if segments.count >= 2, segments.suffix(2).allSatisfy({ $0.text == text }) { continue }
            let start = chunk.start + gg_whisper_segment_start(model.handle, state, i)
            let end = max(start, chunk.start + gg_whisper_segment_end(model.handle, state, i))
            guard let bounds = chunk.snap(start, end) else { continue }
            segments.append(Segment(start: roundedSeconds(bounds.start), end: roundedSeconds(bounds.end), text: text))
        }
        return (segments, String(cString: gg_whisper_language(model.handle, state)), stoppedAt < 0 ? nil : chunk.rest(after: stoppedAt))
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
