import CMicroHTTPD
import Foundation
import Synchronization
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// What one /process request asks of the stages.
struct PipelineRequest: Sendable {
    var urls: [String]
    var base64 = false
    var cleanup = true
    var clips = false
    var engine: String?
    var language: String?
    var threshold: Double?
    /// The shape gg-assemble writes each result in: gg, gilgamesh or gilgamesh-batch.
    var shape = "gg"
}

/// Where the stages are and how every request runs them.
struct PipelineSettings: Sendable {
    var bin: String
    var workRoot: URL
    var cacheDir: URL?
    var timeout: Double
    var jobs: Int
    var denyPrivate: Bool
    var allowHosts: String?
    /// The most bytes of results one request's answer may carry (gg-assemble's --max-output-bytes).
    var maxResponseBytes: Int = 1 << 30
    /// How long a cached download stays fresh, in seconds (gg-fetch --cache-ttl).
    var cacheTTL: Double = 7 * 86400
    /// The media cache's byte limit (gg-fetch --cache-max-bytes).
    var cacheMaxBytes: Int?
    /// How long a cached result stays fresh, in seconds; 0 turns the result cache off.
    var resultTTL: Double = 86400

    /// The result cache's folder, beside the media cache.
    var resultCache: String? { resultTTL > 0 ? cacheDir?.appendingPathComponent("results").path : nil }

    /// gg-fetch's cache options, the same for the stages and the cache endpoints.
    var fetchCacheArguments: [String] {
        (cacheDir.map { ["--cache-dir", $0.path] } ?? []) + ["--cache-ttl", ParsedOptions.plain(cacheTTL) + "s"]
            + (cacheMaxBytes.map { ["--cache-max-bytes", String($0)] } ?? [])
            + (resultCache.map { ["--result-cache", $0, "--result-ttl", ParsedOptions.plain(resultTTL) + "s"] } ?? [])
    }
}

/// One request's run of gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble, chained by pipes in
/// a work folder of its own, each stage in its own process group. Results arrive in input order, read in
/// bounded chunks: gg-serve never holds a whole result. Every descriptor is owned, and `end` (also run
/// when the value goes) is the one teardown for success, failure, a client gone and a failed start.
final class PipelineRun: @unchecked Sendable {
    static let stages = ["fetch", "scenes", "ocr", "transcribe", "assemble"]

    let id: String
    let folder: URL
    private let settings: PipelineSettings
    private let request: PipelineRequest
    private var children: [(stage: String, process: ChildProcess, started: Date)] = []
    private var results: FileDescriptor?
    private var summaries: LineFile?
    private let diagnostics: StderrTail
    private let lock = NSLock()
    private var ended = false
    private var slotFreed = false

    /// True the first time only: the run's admission slot is given back once, when its answer is complete
    /// or when it ends, whichever comes first.
    func freeSlot() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if slotFreed { return false }
        slotFreed = true
        return true
    }

    init(_ request: PipelineRequest, settings: PipelineSettings, log: @escaping @Sendable (_ request: String, _ line: String) -> Void) throws {
        self.request = request
        self.settings = settings
        id = UUID().uuidString.lowercased()
        folder = settings.workRoot.appendingPathComponent("request-\(id)")
        diagnostics = StderrTail(log: log)
        guard mkdir(folder.path, 0o700) == 0 else {
            throw GGError("io", "cannot create the request's work folder under \(settings.workRoot.path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { end(removeFolder: false) }

    var summaryPath: String { folder.appendingPathComponent("summary.ndjson").path }

    /// The argument vector of each stage.
    func arguments(_ stage: String) -> [String] {
        let work = ["--work-dir", folder.path, "--keep-going"]
        let timed = settings.timeout > 0 ? ["--timeout", ParsedOptions.plain(settings.timeout)] : []
        let jobs = ["--jobs", String(settings.jobs)]
        switch stage {
        case "fetch":
            var arguments = work + timed + jobs + (settings.cacheDir == nil ? ["--no-cache"] : settings.fetchCacheArguments + resultOptions)
            if settings.denyPrivate { arguments.append("--deny-private") }
            if let hosts = settings.allowHosts, !hosts.isEmpty { arguments += ["--allow-host", hosts] }
            return arguments
        case "scenes", "ocr", "transcribe":
            return work + timed + jobs + PipelineRun.stageOptions(stage, request)
        default:
            return work + (request.base64 ? ["--base64"] : []) + (request.cleanup ? ["--cleanup"] : ["--artefact-base", "/artefacts/\(id)/"])
                + ["--format", request.shape, "--summary", summaryPath, "--max-output-bytes", String(settings.maxResponseBytes)]
                + (settings.resultCache.map { ["--result-cache", $0, "--result-ttl", ParsedOptions.plain(settings.resultTTL) + "s"] } ?? []) + resultOptions
        }
    }

    /// What gg-fetch and gg-assemble key cached results with: the options of the stages after gg-fetch.
    /// Only requests that clean up use the result cache (a kept folder's files would not match a cached result).
    var resultOptions: [String] {
        guard settings.resultCache != nil, request.cleanup else { return [] }
        return ["--result-options", PipelineRun.resultOptionsText(request)]
    }

    /// The options of gg-scenes, gg-ocr and gg-transcribe that a request sets.
    static func stageOptions(_ stage: String, _ request: PipelineRequest) -> [String] {
        switch stage {
        case "scenes": return (request.clips ? ["--clips"] : []) + (request.threshold.map { ["--threshold", ParsedOptions.plain($0)] } ?? [])
        case "transcribe": return (request.engine.map { ["--engine", $0] } ?? []) + (request.language.map { ["--language", $0] } ?? [])
        default: return []
        }
    }

    /// What keys a request's results in the result cache besides the URL (see `ResultCache.fingerprint`).
    static func resultOptionsText(_ request: PipelineRequest) -> String {
        (["scenes", "ocr", "transcribe"].flatMap { stageOptions($0, request) } + (request.base64 ? ["--base64"] : [])).joined(separator: " ")
    }

    /// Starts the stages and hands them the URLs, one a line (the URLs were checked to hold no line break).
    /// On failure what was started is torn down before the error is thrown.
    func start() throws {
        do {
            let (urlsRead, urlsWrite) = try FileDescriptor.pipe()
            let (errRead, errWrite) = try FileDescriptor.pipe()
            guard FileManager.default.createFile(atPath: summaryPath, contents: nil) else { throw GGError("io", "cannot create \(summaryPath)") }
            var input = urlsRead
            for stage in PipelineRun.stages {
                let (read, write) = try FileDescriptor.pipe()
                let child = try ChildProcess("\(settings.bin)/gg-\(stage)", arguments(stage), stdin: input.raw, stdout: write.raw, stderr: errWrite.raw)
                lock.lock()
                children.append((stage, child, Date()))
                lock.unlock()
                input = read
            }
            errWrite.close()
            _ = fcntl(input.raw, F_SETFL, fcntl(input.raw, F_GETFL) | O_NONBLOCK)
            lock.lock()
            results = input
            summaries = try LineFile(path: summaryPath)
            lock.unlock()
            diagnostics.follow(errRead, request: id)
            let text = Data((request.urls.joined(separator: "\n") + "\n").utf8)
            Thread.detachNewThread {
                _ = text.withUnsafeBytes { urlsWrite.writeAll($0) }
                urlsWrite.close()
            }
        } catch {
            end(removeFolder: true)
            throw error
        }
    }

    /// What reading the results gives next.
    enum Event {
        /// Result `index` begins; its summary (status, error kind, cache use) was written before it.
        case begin(index: Int, summary: ResultSummary?)
        /// Bytes of the current result (never a newline).
        case bytes([UInt8])
        /// The current result is complete.
        case endOfResult
        /// No more results.
        case end
        /// `client` (a socket) hung up while waiting.
        case clientGone

        var isEnd: Bool {
            if case .end = self { return true }
            return false
        }
    }

    private var pending: [Event] = []
    private var inResult = false
    private var resultIndex = 0
    private var clientHalfClosed = false

    /// The next event, waiting at most until results arrive; a client that closes the connection for
    /// good ends the wait early. One that only shuts its sending side (a half-close) still gets its answer.
    func next(client: Int32) -> Event {
        while pending.isEmpty {
            lock.lock()
            let fd = results?.raw ?? -1
            lock.unlock()
            guard fd >= 0 else { return .end }
            var watched = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            if client >= 0 { watched.append(pollfd(fd: client, events: clientHalfClosed ? 0 : gg_pollrdhup(), revents: 0)) }
            _ = Glibc.poll(&watched, nfds_t(watched.count), 1000)
            if watched.count > 1 {
                let events = watched[1].revents
                if events & (Int16(POLLHUP) | Int16(POLLERR)) != 0 { return .clientGone }
                if events & gg_pollrdhup() != 0 { clientHalfClosed = true }
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { SystemIO.read(fd, into: $0) }
            if n > 0 {
                split(chunk[0..<n])
            } else if n == 0 || errno != EAGAIN {
                if inResult { pending.append(.endOfResult); inResult = false }
                pending.append(.end)
                lock.lock()
                results?.close()
                lock.unlock()
            }
        }
        return pending.removeFirst()
    }

    private func split(_ chunk: ArraySlice<UInt8>) {
        var rest = chunk
        while !rest.isEmpty {
            if !inResult {
                inResult = true
                lock.lock()
                let summary = summaries?.line(resultIndex).flatMap { try? JSONDecoder().decode(ResultSummary.self, from: Data($0.utf8)) }
                lock.unlock()
                pending.append(.begin(index: resultIndex, summary: summary))
                resultIndex += 1
            }
            if let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                if newline > rest.startIndex { pending.append(.bytes(Array(rest[rest.startIndex..<newline]))) }
                pending.append(.endOfResult)
                inResult = false
                rest = rest[(newline + 1)...]
            } else {
                pending.append(.bytes(Array(rest)))
                rest = []
            }
        }
    }

    /// Waits for every stage; returns each stage's exit status and seconds.
    func finish() -> [(stage: String, status: Int32, seconds: Double)] {
        lock.lock()
        let running = children
        lock.unlock()
        return running.map { ($0.stage, $0.process.wait(), Date().timeIntervalSince($0.started)) }
    }

    /// The one teardown: every stage's process group killed (their own children go with them) and reaped,
    /// and the work folder removed when asked. Safe to call more than once. The result pipe then ends, so
    /// its reader sees the end and closes it; whatever is left is closed when the run goes.
    func end(removeFolder: Bool) {
        lock.lock()
        let first = !ended
        ended = true
        let running = children
        lock.unlock()
        if first {
            let group = DispatchGroup()
            for child in running where child.process.poll() == nil {
                DispatchQueue.global().async(group: group) { child.process.stop(grace: 1) }
            }
            group.wait()
            for child in running { child.process.wait() }
        }
        if removeFolder { self.removeFolder() }
    }

    /// Removes the run's work folder (a request that did not ask to keep it: `cleanup_temp`).
    func removeFolder() { try? FileManager.default.removeItem(at: folder) }

    /// The last lines the stages wrote on stderr.
    var stderrTail: String { diagnostics.text }
}

/// A file another process appends lines to, read line by line as they come (a line asked for has been
/// written, so a short wait covers only the writer's last bytes).
final class LineFile {
    private let fd: FileDescriptor
    private var buffer = [UInt8]()
    private var lines: [Int: String] = [:]
    private var count = 0

    init(path: String) throws {
        fd = try FileDescriptor.open(path, O_RDONLY)
    }

    /// Line `index` (counting from 0), or nil when it does not come within a second; lines before it are forgotten.
    func line(_ index: Int) -> String? {
        let deadline = Date().addingTimeInterval(1)
        while lines[index] == nil && count <= index {
            var chunk = [UInt8](repeating: 0, count: 1 << 12)
            let n = chunk.withUnsafeMutableBytes { fd.read(into: $0) }
            if n > 0 {
                buffer += chunk[0..<n]
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    lines[count] = String(decoding: buffer[..<newline], as: UTF8.self)
                    count += 1
                    buffer.removeSubrange(...newline)
                }
            } else if Date() > deadline {
                return nil
            } else {
                usleep(2_000)
            }
        }
        for key in lines.keys where key < index { lines[key] = nil }
        return lines[index]
    }
}

/// Keeps the last 64 KiB the stages print on stderr and passes each line to the operator's log.
final class StderrTail: Sendable {
    private let data = Mutex(Data())
    private let log: @Sendable (_ request: String, _ line: String) -> Void

    init(log: @escaping @Sendable (_ request: String, _ line: String) -> Void) { self.log = log }

    func follow(_ fd: FileDescriptor, request: String) {
        Thread.detachNewThread { [self] in
            var chunk = [UInt8](repeating: 0, count: 1 << 14)
            var line = [UInt8]()
            while true {
                let n = chunk.withUnsafeMutableBytes { fd.read(into: $0) }
                if n <= 0 { break }
                data.withLock { data in
                    data.append(contentsOf: chunk[0..<n])
                    if data.count > 1 << 16 { data = data.suffix(1 << 16) }
                }
                for byte in chunk[0..<n] {
                    if byte == UInt8(ascii: "\n") {
                        log(request, String(decoding: line, as: UTF8.self))
                        line.removeAll(keepingCapacity: true)
                    } else if line.count < 2048 {
                        line.append(byte)
                    }
                }
            }
            if !line.isEmpty { log(request, String(decoding: line, as: UTF8.self)) }
            fd.close()
        }
    }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
