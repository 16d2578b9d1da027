import GGShared
import XCTest
@testable import GGTranscribe

/// gg-transcribe's logic around the speech engines, on text and samples made in memory.
final class TranscribeUnitTests: XCTestCase {
    /// A decoder stuck on one phrase ("We are going to be able to work with the series." three times, from a French
    /// clip with tiny.en) is a runaway; speech that repeats a word now and then is not.
    func testLoopingTextIsARunawayAndSpeechIsNot() {
        XCTAssertTrue(Repetition.isRunaway(String(repeating: "We are going to be able to work with the series. ", count: 3)))
        XCTAssertTrue(Repetition.isRunaway(String(repeating: "谢谢大家", count: 8)), "without spaces, characters repeat")
        XCTAssertFalse(Repetition.isRunaway("the quick brown fox jumps over the lazy dog and the dog sleeps on in the sun"))
        XCTAssertFalse(Repetition.isRunaway("yes yes yes"), "too short to tell")
    }

    func testSoundDescriptionsAreNotSpeech() {
        for text in ["", "♪♪", "[BLANK_AUDIO]", " (music) ", "*laughs*", "..."] {
            XCTAssertTrue(WhisperDecoder.isAnnotation(text), text)
        }
        for text in ["Hola a todos", "[music] and then we left", "(1) first step"] {
            XCTAssertFalse(WhisperDecoder.isAnnotation(text), text)
        }
    }

    /// Words closer than the gap join one segment; times are rounded as records carry them.
    func testWordsJoinIntoSegmentsAtPauses() {
        let words = [TimedWord(text: "hello", start: 0.1, end: 0.5), TimedWord(text: "there", start: 0.6, end: 0.9),
                     TimedWord(text: "again", start: 2.5, end: 2.91234)]
        let segments = Transcriber.segments(words, gap: 0.5)
        XCTAssertEqual(segments.map(\.text), ["hello there", "again"])
        XCTAssertEqual(segments.map(\.end), [0.9, roundedSeconds(2.91234)])
    }

    /// Utterances packed into one chunk keep their times: silence between them is zeroed, and a segment whisper
    /// places in that silence is moved onto the speech (or dropped when it lies wholly in silence).
    func testChunksKeepUtteranceTimesAndSnapSegmentsOntoSpeech() {
        let rate = Double(SpeechAudio.sampleRate)
        var chunk = SpeechChunk(start: 1)
        chunk.samples = [Float](repeating: 0.5, count: Int(rate))
        chunk.voiced = [1...2]
        var later = SpeechChunk(start: 4)
        later.samples = [Float](repeating: 0.25, count: Int(rate))
        later.voiced = [4...5]
        chunk.append(later)
        XCTAssertEqual(chunk.end, 5, accuracy: 1e-9)
        XCTAssertEqual(chunk.samples[Int(2.5 * rate)], 0, "silence between utterances is zeroed")
        XCTAssertEqual(chunk.voicedSeconds, 2, accuracy: 1e-9)
        XCTAssertNil(chunk.snap(2.2, 3.8))
        let snapped = chunk.snap(1.5, 4.5)
        XCTAssertEqual(snapped?.start ?? -1, 1.5, accuracy: 1e-9)
        XCTAssertEqual(snapped?.end ?? -1, 4.5, accuracy: 1e-9)
        XCTAssertEqual(chunk.snap(3, 4.6)?.start ?? -1, 4, accuracy: 1e-9)
        let rest = chunk.rest(after: 2)
        XCTAssertEqual(rest?.start ?? -1, 3, accuracy: 1e-9)
        XCTAssertEqual(rest?.voiced.first?.lowerBound ?? -1, 4, accuracy: 1e-9)
        XCTAssertNil(chunk.rest(after: 4.5 - 1 + 0.6), "no utterance reaches past the end")
    }
}
