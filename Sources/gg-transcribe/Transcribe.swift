import Foundation
import GGShared

/// gg-transcribe: a timed transcript for every item with audio.
enum TranscribeTool {
    static let info = ToolInfo(
        name: "gg-transcribe",
        summary: "Transcribe the audio of each video and audio item.",
        details: """
        Adds "transcript": {language, engine, text, segments: [{start, end, text}]} to video and audio items.
        Audio is decoded and resampled to 16 kHz mono with libavformat/libswresample and cut into utterances at
        pauses (energy below --vad-threshold), so memory stays bounded and silence yields no words. Segment
        times are absolute. An item without an audio stream gets an empty transcript.
        Engines: sphinx (PocketSphinx with Debian's pocketsphinx-en-us model). auto picks sphinx.
        """,
        options: [
            OptionSpec("--engine", value: "NAME", default: "auto", "auto or sphinx"),
            OptionSpec("--sphinx-hmm", value: "DIR", default: SphinxModel.debian.hmm, "PocketSphinx acoustic model"),
            OptionSpec("--sphinx-lm", value: "FILE", default: SphinxModel.debian.lm, "PocketSphinx language model"),
            OptionSpec("--sphinx-dict", value: "FILE", default: SphinxModel.debian.dict, "PocketSphinx pronunciation dictionary"),
            OptionSpec("--vad-threshold", value: "DB", default: "-45", "level in dBFS above which a 10 ms frame counts as sound"),
            OptionSpec("--max-utterance", value: "S", default: "20", "longest stretch recognised at once"),
            OptionSpec("--segment-gap", value: "S", default: "0.5", "pause that starts a new transcript segment"),
        ],
        libraries: { ffmpegVersions() + ["pocketsphinx 5prealpha"] })

    static func main() -> Never {
        let runner = StageRunner(tool: info)
        let options = runner.options
        _ = options.choice("--engine", default: "auto", from: ["auto", "sphinx"])
        let model = SphinxModel(hmm: options.string("--sphinx-hmm") ?? SphinxModel.debian.hmm,
                                lm: options.string("--sphinx-lm") ?? SphinxModel.debian.lm,
                                dict: options.string("--sphinx-dict") ?? SphinxModel.debian.dict)
        let transcriber = Transcriber(
            pool: ResourcePool(size: runner.jobs) { try SphinxEngine(model: model) },
            missingModel: model.missing().map { GGError("engine_unavailable", "no PocketSphinx model at \($0); install pocketsphinx-en-us") },
            segmenter: SpeechSegmenter(thresholdDB: options.double("--vad-threshold", default: -45, min: -120, max: 0),
                                       maxSeconds: options.double("--max-utterance", default: 20, min: 1, max: 600)),
            segmentGap: options.double("--segment-gap", default: 0.5, min: 0))
        runner.run { record, context in try transcriber.transcribe(record, context) }
    }
}

/// Transcribes a record's items with pooled speech engines.
struct Transcriber: @unchecked Sendable {
    let pool: ResourcePool<SphinxEngine>
    let missingModel: GGError?
    let segmenter: SpeechSegmenter
    let segmentGap: Double

    func transcribe(_ input: Record, _ context: StageContext) throws -> Record {
        var record = input
        guard var items = record.items else { return record }
        for i in items.indices where items[i].error == nil && items[i].type != .image {
            if let missingModel { throw missingModel }
            try context.checkCancelled()
            do {
                items[i].transcript = try transcript(path: items[i].path, context)
            } catch let error as GGError where error.kind != "timeout" {
                items[i].error = error.failure(stage: context.stage)
            }
        }
        record.items = items
        return record
    }

    func transcript(path: String, _ context: StageContext) throws -> Transcript {
        var words = [TimedWord]()
        _ = try SpeechAudio.utterances(path: path, segmenter: segmenter, cancellation: context.cancellation) { utterance in
            words += try pool.with { $0.recognize(utterance) }
        }
        let segments = Transcriber.segments(words, gap: segmentGap)
        return Transcript(language: "en", engine: "sphinx", text: segments.map(\.text).joined(separator: " "), segments: segments)
    }

    static func segments(_ words: [TimedWord], gap: Double) -> [Segment] {
        var segments = [Segment]()
        for word in words {
            if var last = segments.last, word.start - last.end <= gap {
                last.end = roundedSeconds(word.end)
                last.text += " " + word.text
                segments[segments.count - 1] = last
            } else {
                segments.append(Segment(start: roundedSeconds(word.start), end: roundedSeconds(word.end), text: word.text))
            }
        }
        return segments
    }
}
