import CWhisper
import Foundation
import GGShared

/// Where to find libwhisper and a ggml model for the whisper engine.
struct WhisperSetup: Sendable {
    var library: String?
    var model: String?

    /// The model scripts/setup-whisper makes, used when neither --model nor GG_WHISPER_MODEL names one.
    static let defaultModel = WhisperModels.multilingual

    /// The folder scripts/setup-whisper fills: $GG_WHISPER_HOME; else `.whisper` in the nearest folder
    /// above the executable (followed through symbolic links, and as started) that has one, which finds
    /// the checkout's from `.build/release` and `.build/<triple>/release` alike; else the install-time
    /// folders `<prefix>/share/gg/whisper` beside a copied binary's `bin/`, /usr/local/share and /usr/share.
    static func home(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        InstallLocator.find(".whisper", markers: ["lib", "models"], variable: "GG_WHISPER_HOME", shareName: "whisper", environment: environment)
    }

    /// The model to use: the one named, else the set-up default when it is there.
    static func model(named: String?, home: String?) -> String? {
        if let named, !named.isEmpty { return named }
        guard let home else { return nil }
        let path = "\(home)/\(defaultModel)"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// libwhisper paths tried in order when none is given: the set-up folder's, the dynamic linker's
    /// search path, then pywhispercpp wheels installed for the active virtual environment, the user, or
    /// the system's Pythons.
    static func libraryCandidates(home: String? = WhisperSetup.home()) -> [String] {
        var candidates = home.map { ["\($0)/lib/libwhisper.so.1"] } ?? []
        candidates.append("libwhisper.so.1")
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        var roots = [String]()
        if let venv = ProcessInfo.processInfo.environment["VIRTUAL_ENV"], !venv.isEmpty { roots.append(venv + "/lib") }
        roots += ["\(home)/.local/lib", "/usr/local/lib", "/usr/lib", "\(home)/.pyenv/versions"]
        let sites = roots.flatMap { pythonSites(under: $0) } + ["/usr/lib/python3/dist-packages"]
        candidates += sites.map { "\($0)/libwhisper.so.1" }
        return candidates.filter { !$0.hasPrefix("/") || FileManager.default.fileExists(atPath: $0) }
    }

    private static func pythonSites(under root: String) -> [String] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else { return [] }
        return entries.sorted().flatMap { entry -> [String] in
            let base = "\(root)/\(entry)"
            if entry.hasPrefix("python3") { return ["\(base)/site-packages", "\(base)/dist-packages"] }
            if fm.fileExists(atPath: "\(base)/lib") { return pythonSites(under: "\(base)/lib") }
            return []
        }
    }

    /// The first usable library: its file and version, or why none is (the first reason that matters).
    func findLibrary() -> (library: WhisperLibrary?, problem: String) {
        let candidates = library.map { [$0] } ?? WhisperSetup.libraryCandidates()
        var reasons = [String]()
        for candidate in candidates {
            switch WhisperLibrary.probe(candidate) {
            case .success(let found): return (found, "")
            case .failure(let error):
                if library != nil || candidate.hasPrefix("/") { reasons.append(error.message) }
            }
        }
        return (nil, reasons.first ?? "no libwhisper.so.1 found (the set-up .whisper/lib, the linker's path, pywhispercpp installs); "
            + "run scripts/setup-whisper, or pass --whisper-lib")
    }

    /// Loads the model with the first usable library; otherwise reports why there is none.
    func load() throws -> WhisperModel {
        guard let model else {
            throw GGError("engine_unavailable", "no whisper model: pass --model FILE, set GG_WHISPER_MODEL, or run scripts/setup-whisper")
        }
        guard FileManager.default.isReadableFile(atPath: model) else {
            throw GGError("engine_unavailable", "no whisper model at \(model); scripts/setup-whisper makes one")
        }
        if let problem = WhisperModelFile.problem(at: model) {
            throw GGError("engine_unavailable", "cannot use the whisper model \(model): \(problem)")
        }
        let found = findLibrary()
        guard let library = found.library else { throw GGError("engine_unavailable", found.problem) }
        return try WhisperModel(library: library, model: model)
    }

    /// What `--version` says of the engine: the library found, where, its version, and the model.
    func versionLines() -> [String] {
        guard WhisperModel.compiled else { return ["whisper.cpp: not compiled in (no whisper.h): run scripts/setup-whisper, then rebuild"] }
        let found = findLibrary()
        let library = found.library.map { "whisper.cpp \($0.version) at \($0.path)" + ($0.exactBeamSearch ? ", exact beam search" : ", beam search at random") }
            ?? "whisper.cpp: not usable: \(found.problem)"
        return [library + " (headers \(String(cString: gg_whisper_header_version())))",
                "whisper model: " + (model ?? "none (pass --model, set GG_WHISPER_MODEL, or run scripts/setup-whisper)")]
    }
}

/// A libwhisper that opened and reports the headers' version.
struct WhisperLibrary: Sendable {
    var path: String
    var version: String
    /// Built by scripts/setup-whisper: beam search keeps each beam's most likely tokens instead of
    /// drawing them at random as whisper.cpp 1.8.5 does.
    var exactBeamSearch: Bool

    /// Why beam search with this library is not what --beam promises, if it is not.
    var beamSearchProblem: String? {
        exactBeamSearch ? nil : "whisper.cpp \(version) at \(path) draws beam-search candidates at random "
            + "(as released); scripts/setup-whisper builds it with exact beam search"
    }

    static func probe(_ candidate: String) -> Swift.Result<WhisperLibrary, GGError> {
        var version = [CChar](repeating: 0, count: 64)
        var path = [CChar](repeating: 0, count: 4096)
        var message = [CChar](repeating: 0, count: 1024)
        var exact = false
        guard gg_whisper_probe(candidate, &version, version.count, &path, path.count, &exact, &message, message.count) == 0 else {
            return .failure(GGError("engine_unavailable", WhisperLibrary.text(message)))
        }
        return .success(WhisperLibrary(path: text(path), version: text(version), exactBeamSearch: exact))
    }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A structural check of a whisper.cpp ggml model file before whisper.cpp reads it: whisper.cpp
/// accepts a file that ends after its header as an "empty model" and later aborts the process.
enum WhisperModelFile {
    /// Bytes per block and values per block of the ggml tensor types whisper models use.
    private static let blocks: [Int32: (bytes: Int, values: Int)] = [0: (4, 1), 1: (2, 1), 2: (18, 32), 3: (20, 32), 6: (22, 32),
                                                                      7: (24, 32), 8: (34, 32), 30: (2, 1)]

    /// Nil when the file holds every tensor its header promises, whole; otherwise what is wrong.
    static func problem(at path: String) -> String? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return "cannot read it" }
        let size = data.count
        var offset = 0
        func int32() -> Int32? {
            guard offset + 4 <= size else { return nil }
            defer { offset += 4 }
            return data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
        }
        func skip(_ count: Int) -> Bool {
            guard count >= 0, offset + count <= size else { return false }
            offset += count
            return true
        }
        guard int32() == 0x6767_6D6C else { return "not a ggml whisper model (bad magic)" }
        let hparams = (0..<11).compactMap { _ in int32() }
        guard hparams.count == 11, hparams.allSatisfy({ $0 >= 0 }), hparams[0] < 1 << 20 else { return "bad header" }
        guard let mels = int32(), let fft = int32(), mels < 1024, fft < 1 << 16, skip(Int(mels) * Int(fft) * 4) else { return "truncated in the mel filters" }
        guard let vocabulary = int32(), vocabulary >= 0, vocabulary < 1 << 20 else { return "bad vocabulary" }
        for _ in 0..<vocabulary {
            guard let length = int32(), length >= 0, length < 1 << 16, skip(Int(length)) else { return "truncated in the vocabulary" }
        }
        let expected = 7 + 15 * Int(hparams[4]) + 4 + 24 * Int(hparams[8])
        var tensors = 0
        while offset < size {
            guard let dims = int32(), let nameLength = int32(), let type = int32(), (1...4).contains(dims), (1..<1024).contains(nameLength)
            else { return "bad tensor header after \(tensors) tensors" }
            var count = 1
            for _ in 0..<dims {
                guard let n = int32(), n > 0 else { return "bad tensor shape after \(tensors) tensors" }
                count *= Int(n)
            }
            guard skip(Int(nameLength)) else { return "truncated after \(tensors) tensors" }
            guard let block = blocks[type] else { return nil }
            guard skip(count / block.values * block.bytes) else { return "truncated in tensor \(tensors + 1) of \(expected)" }
            tensors += 1
        }
        return tensors == expected ? nil : "holds \(tensors) of the \(expected) tensors its header promises"
    }
}
