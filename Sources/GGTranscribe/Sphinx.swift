import CPocketSphinx
import Foundation
import GGMedia
import GGShared

/// A recognised word with absolute times in seconds.
struct TimedWord {
    var text: String
    var start: Double
    var end: Double
}

/// Paths of a PocketSphinx acoustic model, language model and dictionary.
struct SphinxModel: Sendable {
    var hmm: String
    var lm: String
    var dict: String

    static let debian = SphinxModel(hmm: "/usr/share/pocketsphinx/model/en-us/en-us",
                                    lm: "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin",
                                    dict: "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict")

    func missing() -> String? {
        [hmm, lm, dict].first { !FileManager.default.fileExists(atPath: $0) }
    }
}

/// An owned PocketSphinx decoder, reused across utterances.
final class SphinxEngine {
    private let config: OpaquePointer
    private let decoder: OpaquePointer

    init(model: SphinxModel) throws {
        gg_ps_quiet()
        guard let config = gg_ps_config(model.hmm, model.lm, model.dict) else {
            throw GGError("engine_unavailable", "cannot configure pocketsphinx with \(model.hmm)")
        }
        guard let decoder = ps_init(config) else {
            cmd_ln_free_r(config)
            throw GGError("engine_unavailable", "cannot load the pocketsphinx model \(model.hmm)")
        }
        self.config = config
        self.decoder = decoder
    }

    deinit {
        ps_free(decoder)
        cmd_ln_free_r(config)
    }

    func recognize(_ utterance: Utterance) -> [TimedWord] {
        guard ps_start_utt(decoder) >= 0 else { return [] }
        _ = utterance.samples.withUnsafeBufferPointer { ps_process_raw(decoder, $0.baseAddress, $0.count, 0, 1) }
        ps_end_utt(decoder)
        var words = [TimedWord]()
        var segment = ps_seg_iter(decoder)
        while let current = segment {
            if let raw = ps_seg_word(current) {
                var word = String(cString: raw)
                if let paren = word.firstIndex(of: "(") { word = String(word[..<paren]) }
                let filler = word.hasPrefix("<") || word.hasPrefix("[") || word.hasPrefix("+") || word.isEmpty
                if !filler {
                    var startFrame: Int32 = 0, endFrame: Int32 = 0
                    ps_seg_frames(current, &startFrame, &endFrame)
                    words.append(TimedWord(text: word, start: utterance.start + Double(startFrame) / 100,
                                           end: utterance.start + Double(endFrame + 1) / 100))
                }
            }
            segment = ps_seg_next(current)
        }
        return words
    }
}
