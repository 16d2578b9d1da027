import Foundation
import Synchronization
import GGMedia
import GGShared

/// gg-transcribe: a timed transcript for every item with audio.
enum TranscribeTool {
    static let info = ToolInfo(
        name: "gg-transcribe",
        summary: "Transcribe the audio of each video and audio item.",
        details: """
        Adds "transcript": {language, engine, text, segments: [{start, end, text}]} to video and audio items.
        Audio is decoded and resampled to 16 kHz mono with libavformat/libswresample and cut into utterances at
        pauses (energy under a gate 8 dB over the background, or --vad-threshold), so memory stays bounded
        and silence yields no words. Segment times are absolute. An item without an audio stream gets an
        empty transcript.
        Engines: whisper (whisper.cpp's libwhisper, loaded at run time, with a ggml model; utterances are
        packed into windows of up to 29 s, longer speech split at a short pause; what whisper leaves
        undecoded at a window's end starts the next window) and sphinx (PocketSphinx with Debian's
        pocketsphinx-en-us model). auto uses whisper and says so (engine, model, library) on stderr; when
        whisper cannot be loaded it warns and falls back to sphinx. The engine is chosen and its model
        loaded when the first record needs it. scripts/setup-whisper builds libwhisper (with exact beam
        search and a fused encoder attention) and installs a tiny.en model into the checkout's .whisper/
        (found by walking up from the executable; $GG_WHISPER_HOME or <prefix>/share/gg/whisper for
        installed binaries). --version says which library and model would be used.

        Examples:
          gg-transcribe --work-dir work < ocr.ndjson > transcribed.ndjson
          gg-transcribe --work-dir work --engine sphinx --timeout 600 ocr.ndjson
        """,
        options: [
            OptionSpec("--engine", value: "NAME", default: "auto", "auto, whisper or sphinx"),
            OptionSpec("--model", value: "FILE", default: "$GG_WHISPER_MODEL, else .whisper/\(WhisperSetup.defaultModel) when set up",
                       "whisper.cpp ggml model (scripts/whisper-model.py makes one)"),
            OptionSpec("--whisper-lib", value: "FILE", default: "$GG_WHISPER_LIB, else .whisper/lib, the linker's path, installed pywhispercpp",
                       "libwhisper.so to load; it must be the whisper.cpp version gg was built with"),
            OptionSpec("--language", value: "CODE", default: "auto", "spoken language for whisper (en, de, ...); English-only models use en"),
            OptionSpec("--threads", value: "N", default: "number of CPUs", "whisper threads per decoder; CPUs/N decoders run at once"),
            OptionSpec("--no-speech", value: "P", default: "0.6", "drop whisper windows whose no-speech probability is higher"),
            OptionSpec("--beam", value: "N", default: "5", "whisper beam search width (as faster-whisper's default); 1 decodes greedily, faster and less accurate"),
            OptionSpec("--sphinx-hmm", value: "DIR", default: SphinxModel.debian.hmm, "PocketSphinx acoustic model"),
            OptionSpec("--sphinx-lm", value: "FILE", default: SphinxModel.debian.lm, "PocketSphinx language model"),
            OptionSpec("--sphinx-dict", value: "FILE", default: SphinxModel.debian.dict, "PocketSphinx pronunciation dictionary"),
            OptionSpec("--vad-threshold", value: "DB", default: "-45 and 8 dB over the background", "a fixed level in dBFS above which a 10 ms frame counts as sound; without it the gate follows the background (the 10th percentile of the last 4 s) and never goes below -45"),
            OptionSpec("--max-utterance", value: "S", default: "20 for sphinx, 28 for whisper",
                       "longest speech without a pause recognised at once; longer speech is split at its quietest point"),
            OptionSpec("--segment-gap", value: "S", default: "0.5", "pause that starts a new sphinx transcript segment"),
        ],
        libraries: { options in ffmpegVersions() + ["pocketsphinx 5prealpha"] + WhisperSetup.configured(options).versionLines() })

    static func main() -> Never {
        let runner = StageRunner(tool: info)
        let options = runner.options
        let engineName = options.choice("--engine", default: "auto", from: ["auto", "whisper", "sphinx"])
        let whisperSetup = WhisperSetup.configured(options)
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let threads = options.int("--threads", default: cpus, min: 1, max: 256)
        let language = options.string("--language") ?? "auto"
        let beam = options.int("--beam", default: 5, min: 1, max: 16)
        let noSpeech = Float(options.double("--no-speech", default: 0.6, min: 0, max: 1))
        let vadThreshold = options.double("--vad-threshold", default: -45, min: -120, max: 0)
        let maxUtterance = options.string("--max-utterance").map { _ in options.double("--max-utterance", default: 20, min: 1, max: 600) }
        let segmentGap = options.double("--segment-gap", default: 0.5, min: 0, max: 3600)
        let jobs = runner.jobs, diagnostics = runner.diagnostics
        // The engine is chosen, and its model loaded, when the first record needs it: a run with nothing to
        // transcribe does not pay for loading a model.
        let transcriber = Deferred<Transcriber> {
            let engine: SpeechEngine
            var longestUtterance = 20.0
            if engineName == "whisper" || engineName == "auto" {
                do {
                    let model = try whisperSetup.load()
                    if engineName == "auto" {
                        diagnostics.note("engine whisper: model \(model.path), whisper.cpp \(model.library.version) at \(model.library.path)")
                    }
                    if beam > 1, let problem = model.library.beamSearchProblem { diagnostics.warning(problem) }
                    let english = !model.multilingual || language == "en"
                    engine = .whisper(ResourcePool(size: max(1, min(jobs, cpus / threads))) { WhisperDecoder(model: model) },
                                      threads: threads, language: english ? "en" : language, beam: beam, noSpeech: noSpeech)
                    longestUtterance = 28
                } catch {
                    let failure = error as? GGError ?? GGError("engine_unavailable", "\(error)")
                    if engineName == "whisper" {
                        engine = .unavailable(failure)
                    } else {
                        diagnostics.warning("\(failure.message); using the sphinx engine")
                        engine = sphinxEngine(options, jobs: jobs)
                    }
                }
            } else {
                engine = sphinxEngine(options, jobs: jobs)
            }
            let segmenter = SpeechSegmenter(thresholdDB: vadThreshold, maxSeconds: maxUtterance ?? longestUtterance,
                                            adaptive: options.string("--vad-threshold") == nil)
            return Transcriber(engine: engine, segmenter: segmenter, segmentGap: segmentGap)
        }
        runner.run { record, context in try transcriber.value.transcribe(record, context) }
    }

    static func sphinxEngine(_ options: ParsedOptions, jobs: Int) -> SpeechEngine {
        if options.string("--engine") == nil { Diagnostics(tool: info.name).note("engine sphinx: model \(options.string("--sphinx-hmm") ?? SphinxModel.debian.hmm)") }
        let model = SphinxModel(hmm: options.string("--sphinx-hmm") ?? SphinxModel.debian.hmm,
                                lm: options.string("--sphinx-lm") ?? SphinxModel.debian.lm,
                                dict: options.string("--sphinx-dict") ?? SphinxModel.debian.dict)
        if let missing = model.missing() {
            return .unavailable(GGError("engine_unavailable", "no PocketSphinx model at \(missing); install pocketsphinx-en-us"))
        }
        return .sphinx(ResourcePool(size: jobs) { try SphinxEngine(model: model) })
    }
}

extension WhisperSetup {
    /// The library and model the options and environment name, with the set-up defaults.
    static func configured(_ options: ParsedOptions? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> WhisperSetup {
        let nonEmpty = environment.filter { !$0.value.isEmpty }
        return WhisperSetup(library: options?.string("--whisper-lib") ?? nonEmpty["GG_WHISPER_LIB"],
                            model: model(named: options?.string("--model") ?? nonEmpty["GG_WHISPER_MODEL"], home: home(environment: nonEmpty)))
    }
}

/// The recogniser a run uses, with its pooled per-worker state.
enum SpeechEngine: Sendable {
    case whisper(ResourcePool<WhisperDecoder>, threads: Int, language: String, beam: Int, noSpeech: Float)
    case sphinx(ResourcePool<SphinxEngine>)
    case unavailable(GGError)
}

/// A value made by the first caller that needs it; the others wait for it and share it.
final class Deferred<Value: Sendable>: Sendable {
    private let made = Mutex<Value?>(nil)
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) { self.make = make }

    var value: Value {
        made.withLock { made in
            if made == nil { made = make() }
            return made!
        }
    }
}

/// Transcribes a record's items.
struct Transcriber: Sendable {
    let engine: SpeechEngine
    let segmenter: SpeechSegmenter
    let segmentGap: Double

    func transcribe(_ input: Record, _ context: StageContext) throws -> Record {
        var record = input
        guard var items = record.items else { return record }
        if case .unavailable(let error) = engine, items.contains(where: { $0.error == nil && $0.type != .image }) { throw error }
        try context.forEachItem(&items, where: { $0.type != .image }) { item in
            item.transcript = try transcript(path: item.path, context)
        }
        record.items = items
        return record
    }

    func transcript(path: String, _ context: StageContext) throws -> Transcript {
        switch engine {
        case .sphinx(let pool):
            var words = [TimedWord]()
            _ = try SpeechAudio.utterances(path: path, segmenter: segmenter, cancellation: context.cancellation) { utterance in
                context.reportPosition(utterance.start, of: nil)
                words += try pool.with { $0.recognize(utterance) }
            }
            let segments = Transcriber.segments(words, gap: segmentGap)
            return Transcript(language: "en", engine: "sphinx", text: segments.map(\.text).joined(separator: " "), segments: segments)
        case .whisper(let pool, let threads, let language, let beam, let noSpeech):
            var packer = ChunkPacker(maxSeconds: max(29, segmenter.maxSeconds))
            var segments = [Segment]()
            var detected = language == "auto" ? nil : language
            func run(_ chunk: SpeechChunk, last: Bool) throws {
                let result = try pool.with {
                    try $0.transcribe(chunk, threads: threads, language: language, beam: beam, noSpeechThreshold: noSpeech, stopEarly: !last,
                                      cancellation: context.cancellation)
                }
                segments += result.segments
                if detected == nil, !result.segments.isEmpty { detected = result.language }
                if let rest = result.rest, let alone = packer.carry(rest) { try run(alone, last: true) }
            }
            _ = try SpeechAudio.utterances(path: path, segmenter: segmenter, cancellation: context.cancellation) { utterance in
                context.reportPosition(utterance.start, of: nil)
                if let chunk = packer.add(utterance) { try run(chunk, last: false) }
            }
            if let chunk = packer.finish() { try run(chunk, last: true) }
            return Transcript(language: detected ?? "", engine: "whisper",
                              text: segments.map(\.text).joined(separator: " "), segments: segments)
        case .unavailable(let error):
            throw error
        }
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
