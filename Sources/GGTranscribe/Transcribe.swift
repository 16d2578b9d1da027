import Foundation
import Synchronization
import GGMedia
import GGShared

/// gg-transcribe: a timed transcript for every item with audio.
public enum TranscribeTool {
    static let info = ToolInfo(
        name: "gg-transcribe",
        summary: "Transcribe the audio of each video and audio item.",
        details: """
        Adds "transcript": {language, language_probability, language_source, engine, text, segments: [{start, end,
        text, language}]} to video and audio items (docs/records.md).
        Audio is decoded and resampled to 16 kHz mono with libavformat/libswresample and cut into utterances at
        pauses (energy under a gate 8 dB over the background, or --vad-threshold), so memory stays bounded
        and silence yields no words. Segment times are absolute. An item without an audio stream gets an
        empty transcript.
        Engines: whisper (whisper.cpp's libwhisper, loaded at run time, with a ggml model; utterances are
        packed into windows of up to 29 s, longer speech split at a short pause; what whisper leaves
        undecoded at a window's end starts the next window) and sphinx (PocketSphinx with Debian's
        pocketsphinx-en-us model, English only). auto uses whisper and says so (engine, model, library) on stderr;
        when whisper cannot be loaded it warns and falls back to sphinx. The engine is chosen and its model
        loaded when the first record needs it. Languages: with a multilingual model (the default) whisper
        detects the language of each window of speech; a window with under --detect-min seconds of speech
        keeps the language found before it, else --fallback-language. A run of decoding that takes more than
        --token-budget steps per second of audio (music, noise, a decoder repeating itself) is stopped there.
        scripts/setup-whisper builds libwhisper (with exact beam search and a fused encoder attention) and
        installs the multilingual base model and the English-only tiny.en into the checkout's .whisper/
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
            OptionSpec("--language", value: "CODE", default: "auto", "spoken language for whisper (en, de, ...), or auto to detect it; English-only models use en"),
            OptionSpec("--fallback-language", value: "CODE", default: "en", "language of an item with too little speech to detect one"),
            OptionSpec("--detect-min", value: "S", default: "1.5", "least speech in a window for whisper to detect its language"),
            OptionSpec("--token-budget", value: "N", default: "16", "decoding steps per beam allowed per second of audio (with 32 more per window), over all fallbacks"),
            OptionSpec("--threads", value: "N", default: "the CPUs not busy with other work, at each window", "whisper threads per decoder; CPUs/N decoders run at once"),
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

    public static func main() -> Never {
        let runner = StageRunner(tool: info)
        let options = runner.options
        let engineName = options.choice("--engine", default: "auto", from: ["auto", "whisper", "sphinx"])
        let whisperSetup = WhisperSetup.configured(options)
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let threads = options.int("--threads", default: cpus, min: 1, max: 256)
        let fixedThreads = options.string("--threads") != nil
        let language = options.string("--language") ?? "auto"
        let fallbackLanguage = options.string("--fallback-language") ?? "en"
        let detectMin = options.double("--detect-min", default: 1.5, min: 0, max: 30)
        let tokenBudget = options.int("--token-budget", default: 16, min: 1, max: 1000)
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
                    let settings = WhisperSettings(threads: threads, matchFreeCores: !fixedThreads, language: model.multilingual ? language : "en",
                                                   englishOnlyModel: !model.multilingual, fallbackLanguage: fallbackLanguage,
                                                   detectMinSeconds: detectMin, beam: beam, tokenBudget: tokenBudget, noSpeech: noSpeech)
                    engine = .whisper(ResourcePool(size: max(1, min(jobs, cpus / threads))) { WhisperDecoder(model: model) }, settings)
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
    case whisper(ResourcePool<WhisperDecoder>, WhisperSettings)
    case sphinx(ResourcePool<SphinxEngine>)
    case unavailable(GGError)
}

/// How the whisper engine decodes.
struct WhisperSettings: Sendable {
    var threads: Int
    /// Use fewer threads than `threads` while other processes keep CPUs busy (no --threads given).
    var matchFreeCores: Bool
    /// A language code, or "auto" to detect it per window.
    var language: String
    var englishOnlyModel: Bool
    var fallbackLanguage: String
    var detectMinSeconds: Double
    var beam: Int
    /// Decoding steps per beam per second of audio.
    var tokenBudget: Int
    var noSpeech: Float

    /// Steps one decoding of `seconds` of audio may take, over its beams and fallbacks.
    func stepBudget(seconds: Double) -> Int { beam * (tokenBudget * Int(seconds.rounded(.up)) + 32) }

    /// Threads for the next window: `threads`, or fewer when other work keeps CPUs busy.
    func threadsNow() -> Int { matchFreeCores ? min(threads, CPULoad.freeCores(of: threads)) : threads }
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
            return Transcript(language: "en", engine: "sphinx", text: segments.map(\.text).joined(separator: " "), segments: segments,
                              languageSource: "model")
        case .whisper(let pool, let settings):
            var packer = ChunkPacker(maxSeconds: max(29, segmenter.maxSeconds))
            var language = LanguageTally()
            var segments = [(segment: Segment, language: String)]()
            func run(_ chunk: SpeechChunk, last: Bool) throws {
                let asked: String
                if settings.language != "auto" {
                    asked = settings.language
                } else if chunk.voicedSeconds < settings.detectMinSeconds {
                    asked = language.current ?? settings.fallbackLanguage
                } else {
                    asked = "auto"
                }
                let result = try pool.with {
                    try $0.transcribe(chunk, threads: settings.threadsNow(), language: asked, beam: settings.beam,
                                      stepBudget: settings.stepBudget(seconds: chunk.end - chunk.start), noSpeechThreshold: settings.noSpeech,
                                      stopEarly: !last, cancellation: context.cancellation)
                }
                if result.budgetExhausted {
                    context.diagnostics.warning("\(path): whisper stopped at its decoding budget (--token-budget) in the audio from "
                                                + "\(roundedSeconds(chunk.start)) s; the rest of that window is not transcribed")
                }
                language.add(result)
                segments += result.segments.map { ($0, result.language) }
                if let rest = result.rest, let alone = packer.carry(rest) { try run(alone, last: true) }
            }
            _ = try SpeechAudio.utterances(path: path, segmenter: segmenter, cancellation: context.cancellation) { utterance in
                context.reportPosition(utterance.start, of: nil)
                if let chunk = packer.add(utterance) { try run(chunk, last: false) }
            }
            if let chunk = packer.finish() { try run(chunk, last: true) }
            let main = language.main ?? (settings.language == "auto" ? settings.fallbackLanguage : settings.language)
            let source = settings.englishOnlyModel ? "model" : settings.language != "auto" ? "requested" : language.detected ? "detected" : "fallback"
            let timed = segments.map { entry in
                var segment = entry.segment
                if entry.language != main { segment.language = entry.language }
                return segment
            }
            return Transcript(language: main, engine: "whisper", text: timed.map(\.text).joined(separator: " "), segments: timed,
                              languageProbability: source == "detected" ? language.probability(of: main) : nil, languageSource: source)
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

/// The languages of an item's windows, weighted by their seconds of transcribed speech.
struct LanguageTally {
    private var seconds = [String: Double]()
    private var weightedProbability = [String: (sum: Double, seconds: Double)]()
    /// The language of the last window with speech.
    private(set) var current: String?
    /// Whether any window's language was detected rather than given.
    private(set) var detected = false

    mutating func add(_ result: WhisperDecoder.Result) {
        guard !result.segments.isEmpty, !result.language.isEmpty else { return }
        let spoken = result.segments.reduce(0) { $0 + $1.end - $1.start }
        seconds[result.language, default: 0] += spoken
        current = result.language
        if let probability = result.languageProbability {
            detected = true
            let weight = max(spoken, 0.01)
            weightedProbability[result.language, default: (0, 0)].sum += probability * weight
            weightedProbability[result.language, default: (0, 0)].seconds += weight
        }
    }

    /// The language spoken longest.
    var main: String? { seconds.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key }

    /// The detected probability of `language`, averaged over its windows by their speech.
    func probability(of language: String) -> Double? {
        guard let entry = weightedProbability[language], entry.seconds > 0 else { return nil }
        return (entry.sum / entry.seconds * 1000).rounded() / 1000
    }
}
