import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// The final description of one input URL.
struct ServiceResult: Codable, Sendable {
    var id: String?
    var url: String?
    var status: String
    var kind: String?
    var title: String?
    var description: String?
    var tags: [String]?
    var uploader: String?
    var uploaded: String?
    var pageUrl: String?
    var duration: Double?
    var videos: [VideoResult] = []
    var images: [ImageResult] = []
    var audio: [AudioResult] = []
    var warnings: [String]?
    var error: StageFailure?
    /// "hit" when the result came from the result cache instead of the pipeline.
    var resultCache: String?
}

extension ServiceResult {
    /// Every error in the result, its items' and their scenes': the run's exit status counts them all.
    var failures: [StageFailure] {
        [error].compactMap { $0 } + videos.flatMap { [$0.error].compactMap { $0 } + $0.scenes.compactMap(\.error) }
            + images.compactMap(\.error) + audio.compactMap(\.error)
    }
}

/// A video item in the final result.
struct VideoResult: Codable, Sendable {
    var index: Int
    var duration: Double?
    var width: Int?
    var height: Int?
    var scenes: [SceneResult]
    var transcript: Transcript?
    var warnings: [String]?
    var cache: String?
    var error: StageFailure?
}

/// An audio-only item in the final result.
struct AudioResult: Codable, Sendable {
    var index: Int
    var duration: Double?
    var transcript: Transcript?
    var cache: String?
    var error: StageFailure?
}

/// A scene in the final result.
struct SceneResult: Codable, Sendable {
    var index: Int
    var start: Double
    var end: Double
    var text: String?
    var confidence: Double?
    var duplicateOf: Int?
    var keyframe: String?
    var keyframeTime: Double?
    var keyframeBase64: String?
    var clip: String?
    var clipBase64: String?
    var error: StageFailure?
}

/// An image item in the final result.
struct ImageResult: Codable, Sendable {
    var index: Int
    var text: String?
    var confidence: Double?
    var width: Int?
    var height: Int?
    var path: String?
    var base64: String?
    var cache: String?
    var error: StageFailure?
}

/// gg-assemble: records to final results.
public enum AssembleTool {
    static let info = ToolInfo(
        name: "gg-assemble",
        summary: "Turn pipeline records into one final result per input URL.",
        details: """
        Each result is {url, status: success|error, title, description, tags, uploader, uploaded, page_url, videos: [{index,
        duration, scenes: [{start, end, text, confidence, keyframe}], transcript}], images: [{index, text,
        confidence}], audio, error}, in input order. --cleanup deletes each finished record's files and its
        folder WORK-DIR/<id>/ (also what a failed stage left there), never anything outside the work root: such
        a path gets a warning and status 65; files under --allow-root folders are kept. Paths outside the work
        root and those folders are refused ('forbidden_path'). The exit status counts every error the results
        carry (a run whose only failures are timeouts exits 75).

        Examples:
          gg-assemble --work-dir work < transcribed.ndjson > results.ndjson
          gg-assemble --work-dir work --array --base64 --cleanup transcribed.ndjson > results.json
        """,
        options: [
            OptionSpec("--array", #"write one JSON document {"results": [...]} instead of NDJSON"#),
            OptionSpec("--base64", "embed keyframes, clips and images as base64 (keyframe_base64, clip_base64, base64)"),
            OptionSpec("--cleanup", "delete the work files of each finished record (paths are then left out)"),
            OptionSpec("--format", value: "SHAPE", default: "gg", "each result's shape: gg, gilgamesh (the old service's) or gilgamesh-batch (an entry of its /process/batch answer)"),
            OptionSpec("--summary", value: "FILE", "append a small line per result ({status, kind, cache}) to FILE before writing the result (gg-serve reads it)"),
            OptionSpec("--max-output-bytes", value: "N", "the most bytes of results in all; a result that would pass it becomes an output_too_large error"),
            OptionSpec("--result-cache", value: "DIR", "store each successful result (with --cleanup) in the result cache gg-fetch looks results up in"),
            OptionSpec("--result-options", value: "TEXT", "the stage options gg-fetch was given with --result-options (part of the key)"),
            OptionSpec("--result-ttl", value: "AGE", default: "24h", "how long a stored result stays fresh"),
            OptionSpec("--artefact-base", value: "PREFIX", "name kept files (no --cleanup) as PREFIX + their path under the work root instead of the path (gg-serve's artefact URLs)"),
            OptionSpec("--join", value: "FILE", "records of a parallel branch (the Makefile's gg-transcribe beside gg-scenes | gg-ocr), line for line the same records as the input: their transcripts, errors and warnings are joined in"),
        ],
        takesTimeout: false,
        libraries: { _ in [] })

    public static func main() -> Never {
        let runner = StageRunner(tool: info)
        runner.arrayOutput = runner.options.flag("--array")
        var assembler = Assembler(base64: runner.options.flag("--base64"), cleanup: runner.options.flag("--cleanup"), workRoot: runner.workDir,
                                  readableRoots: runner.readableRoots)
        assembler.artefactBase = runner.options.string("--artefact-base")
        if let folder = runner.options.string("--result-cache") {
            assembler.results = (ResultCache.open(folder, ttl: runner.options.duration("--result-ttl", default: 86400), maxBytes: 4 << 30),
                                 ResultCache.fingerprint(options: runner.options.string("--result-options") ?? ""))
        }
        let branch = runner.options.string("--join").map { JoinedBranch(path: $0, tool: info.name) }
        let shape = ResultShape(rawValue: runner.options.choice("--format", default: "gg", from: ["gg", "gilgamesh", "gilgamesh-batch"]))!
        if runner.options.string("--max-output-bytes") != nil {
            runner.maxOutputBytes = runner.options.int("--max-output-bytes", default: 0, min: 1024, max: Int.max)
        }
        if let path = runner.options.string("--summary") {
            guard let handle = FileHandle(forWritingAtPath: path) ?? (FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil) else {
                runner.diagnostics.error("cannot open --summary \(path)")
                exit(ExitCode.ioError.rawValue)
            }
            handle.seekToEndOfFile()
            runner.summaryHandle = handle
        }
        let finalAssembler = assembler
        runner.runTransform(passErrors: false, { record, context in
            AssembledResult(result: try finalAssembler.assemble(try branch?.join(record, at: context.sequence) ?? record, context), shape: shape)
        }, failed: { record, failure in
            var result = Assembler.header(record)
            result.status = "error"
            result.error = failure
            return AssembledResult(result: result, shape: shape)
        }, failures: { assembled in
            (assembled.result.warnings ?? []).compactMap { warning in
                if warning.hasPrefix("cleanup refused") { return StageFailure(stage: "assemble", kind: "cleanup_refused", message: warning) }
                if warning.hasPrefix("cleanup failed") { return StageFailure(stage: "assemble", kind: "cleanup_failed", message: warning) }
                return nil
            } + [assembled.result.error].compactMap { $0 }.filter { $0.stage == "assemble" && $0.kind != "forbidden_path" }
        }, carried: { assembled in
            assembled.result.failures.filter { $0.stage != "assemble" || $0.kind == "forbidden_path" }
        }, summary: { $0.summary })
    }
}

/// The records of a parallel branch, read whole (records carry paths, not media), to join line by line.
struct JoinedBranch: Sendable {
    let records: [String]
    let path: String

    init(path: String, tool: String) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            Diagnostics(tool: tool).error("cannot open \(path) (--join)")
            exit(ExitCode.noInput.rawValue)
        }
        records = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !$0.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
    }

    func join(_ record: Record, at sequence: Int) throws -> Record {
        guard sequence >= 0, sequence < records.count else {
            throw GGError("malformed_record", "\(path) has no record \(sequence + 1) to join (--join)")
        }
        let other = try RecordJSON.decodeRecord(records[sequence])
        guard other.id == record.id, other.url == record.url else {
            throw GGError("malformed_record", "record \(sequence + 1) of \(path) is another record (\(other.id ?? "?") for \(record.id ?? "?")) (--join)")
        }
        return record.joined(with: other)
    }
}

/// Builds results and cleans up work files.
struct Assembler: Sendable {
    let base64: Bool
    let cleanup: Bool
    let workRoot: URL
    let readableRoots: [String]
    /// The result cache and the fingerprint its keys carry, when results are cached.
    var results: (cache: MediaCache, fingerprint: String)?
    /// What kept files' paths become in results (`--artefact-base`): this prefix and the path under the work root.
    var artefactBase: String?

    static func header(_ record: Record) -> ServiceResult {
        ServiceResult(id: record.id, url: record.url, status: "success", kind: record.kind, title: record.title, description: record.description,
               tags: record.tags, uploader: record.uploader, uploaded: record.uploaded, pageUrl: record.pageUrl, duration: record.duration, warnings: record.warnings)
    }

    func assemble(_ input: Record, _ context: StageContext) throws -> ServiceResult {
        if let file = input.cachedResult { return try cached(file, of: input) }
        var result = try assembleFresh(input, context)
        if let results, cleanup, result.status == "success", let url = input.url, result.warnings?.contains(where: { $0.hasPrefix("cleanup") }) != true {
            result.url = url
            if let data = try? RecordJSON.encoder().encode(result) {
                try? results.cache.storeData(ResultCache.key(url: url, fingerprint: results.fingerprint), data: data, contentType: "application/json")
            }
        }
        return result
    }

    /// The result gg-fetch found in the result cache, marked as a hit.
    private func cached(_ file: String, of record: Record) throws -> ServiceResult {
        let path = try WorkRoot(workRoot, readable: readableRoots).confine(file)
        guard let data = FileManager.default.contents(atPath: path) else { throw GGError("io", "cannot read the cached result \(path)") }
        var result = try RecordJSON.decoder().decode(ServiceResult.self, from: data)
        result.id = record.id
        result.url = record.url
        result.resultCache = "hit"
        if cleanup {
            let outcome = removeWorkFiles(of: record)
            if !outcome.failed.isEmpty { result.warnings = (result.warnings ?? []) + outcome.failed.map { "cleanup failed: \($0)" } }
        }
        return result
    }

    private func assembleFresh(_ input: Record, _ context: StageContext) throws -> ServiceResult {
        var record = input
        let root = WorkRoot(workRoot, readable: readableRoots)
        for index in (record.items ?? []).indices where record.items![index].error == nil {
            let item = record.items![index]
            if let outside = ([item.path] + (item.scenes ?? []).flatMap { [$0.keyframe, $0.clip ?? ""] }).first(where: { !$0.isEmpty && !root.mayRead($0) }) {
                record.items![index].error = StageFailure(stage: "assemble", kind: "forbidden_path", message: "\(outside) is outside the work root \(workRoot.path)")
                record.items![index].scenes = nil
            }
        }
        var result = Assembler.header(record)
        result.error = record.error
        for item in record.items ?? [] {
            switch item.type {
            case .image:
                result.images.append(ImageResult(index: item.index, text: item.text, confidence: item.confidence, width: item.width, height: item.height,
                                                 path: cleanup ? nil : published(item.path), base64: embed(item.path), cache: item.cache, error: item.error))
            case .audio:
                result.audio.append(AudioResult(index: item.index, duration: item.duration, transcript: item.transcript, cache: item.cache, error: item.error))
            case .video:
                let scenes = (item.scenes ?? []).map { scene in
                    SceneResult(index: scene.index, start: scene.start, end: scene.end, text: scene.text, confidence: scene.confidence,
                                duplicateOf: scene.duplicateOf, keyframe: cleanup ? nil : published(scene.keyframe), keyframeTime: scene.keyframeTime,
                                keyframeBase64: embed(scene.keyframe), clip: cleanup ? nil : scene.clip.flatMap(published),
                                clipBase64: scene.clip.flatMap(embed), error: scene.error)
                }
                result.videos.append(VideoResult(index: item.index, duration: item.duration, width: item.width, height: item.height,
                                                 scenes: scenes, transcript: item.transcript, warnings: item.warnings, cache: item.cache, error: item.error))
            }
        }
        let itemErrors = (record.items ?? []).compactMap(\.error)
        if result.error == nil, !itemErrors.isEmpty, itemErrors.count == record.items?.count { result.error = itemErrors[0] }
        if result.error != nil { result.status = "error" }
        if cleanup {
            let outcome = removeWorkFiles(of: input)
            result.warnings = (result.warnings ?? []) + outcome.refused.map { "cleanup refused: \($0) is outside the work root" }
                + outcome.failed.map { "cleanup failed: \($0)" }
            if result.warnings?.isEmpty == true { result.warnings = record.warnings }
        }
        return result
    }

    private func nonEmpty(_ path: String) -> String? { path.isEmpty ? nil : path }

    /// A kept file as the result names it: its path, or with `--artefact-base` that prefix and its path
    /// under the work root (gg-serve's artefact URLs: server paths are not its clients' business).
    private func published(_ path: String) -> String? {
        guard !path.isEmpty else { return nil }
        guard let artefactBase else { return path }
        let root = WorkRoot(workRoot, readable: readableRoots)
        guard root.contains(path) else { return nil }
        let relative = String(WorkRoot.canonical(path).dropFirst(root.canonical.count + 1))
        return artefactBase + (relative.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? relative)
    }

    private func embed(_ path: String) -> String? {
        guard base64, !path.isEmpty, WorkRoot(workRoot, readable: readableRoots).mayRead(path), let data = FileManager.default.contents(atPath: path) else { return nil }
        return data.base64EncodedString()
    }

    /// Deletes the record's files under the work root; returns the paths it refused (outside the work root)
    /// and the deletions that failed (with the reason).
    func removeWorkFiles(of record: Record) -> (refused: [String], failed: [String]) {
        let root = WorkRoot(workRoot, readable: readableRoots)
        var refused = [String]()
        var failed = [String]()
        for path in record.files where !path.isEmpty {
            guard root.contains(path) else {
                if !root.mayRead(path) { refused.append(path) }
                continue
            }
            if unlink(WorkRoot.canonical(path)) != 0 && errno != ENOENT { failed.append("\(path): \(String(cString: strerror(errno)))") }
        }
        if let id = record.id ?? record.url.map(Record.id(for:)), !id.contains("/"), !id.isEmpty, id != "." && id != ".." {
            let folder = root.canonical + "/" + id
            var info = stat()
            if lstat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                do {
                    try FileManager.default.removeItem(atPath: folder)
                } catch {
                    failed.append("\(folder): \((error as NSError).localizedDescription)")
                }
            }
        }
        return (refused, failed)
    }
}
