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
}

/// One request's run of gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble, chained by pipes in
/// a work folder of its own, each stage in its own process group. Results arrive in input order.
final class PipelineRun: @unchecked Sendable {
    static let stages = ["fetch", "scenes", "ocr", "transcribe", "assemble"]

    let folder: URL
    private let settings: PipelineSettings
    private let request: PipelineRequest
    private var children: [(stage: String, process: ChildProcess, started: Date)] = []
    private var resultFd: Int32 = -1
    private var buffer = [UInt8]()
    private let diagnostics = StderrTail()
    private let lock = NSLock()
    private var stopped = false

    init(_ request: PipelineRequest, settings: PipelineSettings) throws {
        self.request = request
        self.settings = settings
        folder = settings.workRoot.appendingPathComponent("request-\(UUID().uuidString.lowercased())")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw GGError("io", "cannot create the request's work folder under \(settings.workRoot.path)")
        }
    }

    /// The argument vector of each stage.
    func arguments(_ stage: String) -> [String] {
        let work = ["--work-dir", folder.path, "--keep-going"]
        let timed = settings.timeout > 0 ? ["--timeout", ParsedOptions.plain(settings.timeout)] : []
        let jobs = ["--jobs", String(settings.jobs)]
        switch stage {
        case "fetch":
            var arguments = work + timed + jobs + (settings.cacheDir.map { ["--cache-dir", $0.path] } ?? ["--no-cache"])
            if settings.denyPrivate { arguments.append("--deny-private") }
            if let hosts = settings.allowHosts, !hosts.isEmpty { arguments += ["--allow-host", hosts] }
            return arguments
        case "scenes":
            return work + timed + jobs + (request.clips ? ["--clips"] : []) + (request.threshold.map { ["--threshold", ParsedOptions.plain($0)] } ?? [])
        case "ocr":
            return work + timed + jobs
        case "transcribe":
            return work + timed + jobs + (request.engine.map { ["--engine", $0] } ?? []) + (request.language.map { ["--language", $0] } ?? [])
        default:
            return work + (request.base64 ? ["--base64"] : []) + (request.cleanup ? ["--cleanup"] : [])
        }
    }

    /// Starts the stages and hands them the URLs.
    func start() throws {
        let (urlsRead, urlsWrite) = try ChildProcess.pipe()
        let (errRead, errWrite) = try ChildProcess.pipe()
        var input = urlsRead
        defer { close(errWrite) }
        for stage in PipelineRun.stages {
            let (read, write) = try ChildProcess.pipe()
            let child: ChildProcess
            do {
                child = try ChildProcess("\(settings.bin)/gg-\(stage)", arguments(stage), stdin: input, stdout: write, stderr: errWrite)
            } catch {
                close(input); close(read); close(write); close(urlsWrite); close(errRead)
                stop()
                throw error
            }
            close(input)
            close(write)
            input = read
            lock.lock()
            children.append((stage, child, Date()))
            lock.unlock()
        }
        resultFd = input
        _ = fcntl(resultFd, F_SETFL, fcntl(resultFd, F_GETFL) | O_NONBLOCK)
        diagnostics.follow(errRead)
        let text = Data((request.urls.joined(separator: "\n") + "\n").utf8)
        Thread.detachNewThread {
            text.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(urlsWrite, raw.baseAddress! + offset, raw.count - offset)
                    if n <= 0 { if errno == EINTR { continue } else { break } }
                    offset += n
                }
            }
            close(urlsWrite)
        }
    }

    /// The next result line; nil at the end. Returns early with `.clientGone` when `client` (a socket)
    /// hangs up while waiting.
    enum Next { case line(String), end, clientGone }

    func next(client: Int32) -> Next {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return .line(line)
            }
            var watched = [pollfd(fd: resultFd, events: Int16(POLLIN), revents: 0)]
            if client >= 0 { watched.append(pollfd(fd: client, events: gg_pollrdhup(), revents: 0)) }
            _ = Glibc.poll(&watched, nfds_t(watched.count), 200)
            if watched.count > 1, watched[1].revents & (gg_pollrdhup() | Int16(POLLHUP) | Int16(POLLERR)) != 0 { return .clientGone }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(resultFd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer += chunk[0..<n]
            } else if n == 0 {
                if buffer.isEmpty { return .end }
                let line = String(decoding: buffer, as: UTF8.self)
                buffer.removeAll()
                return .line(line)
            } else if errno != EAGAIN && errno != EINTR {
                return .end
            }
        }
    }

    /// Waits for every stage; returns each stage's exit status and seconds.
    func finish() -> [(stage: String, status: Int32, seconds: Double)] {
        lock.lock()
        let running = children
        lock.unlock()
        let statuses = running.map { ($0.stage, $0.process.wait(), Date().timeIntervalSince($0.started)) }
        if resultFd >= 0 { close(resultFd); resultFd = -1 }
        return statuses
    }

    /// Kills every stage's process group (their own children go with them).
    func stop() {
        lock.lock()
        guard !stopped else {
            lock.unlock()
            return
        }
        stopped = true
        let running = children
        lock.unlock()
        let group = DispatchGroup()
        for child in running {
            DispatchQueue.global().async(group: group) { child.process.stop(grace: 1) }
        }
        group.wait()
        for child in running { child.process.wait() }
    }

    /// Removes the request's work folder.
    func removeFolder() { try? FileManager.default.removeItem(at: folder) }

    /// The last lines the stages wrote on stderr.
    var stderrTail: String { diagnostics.text }
}

/// Keeps the last 64 KiB the stages print on stderr.
final class StderrTail: Sendable {
    private let data = Mutex(Data())

    func follow(_ fd: Int32) {
        Thread.detachNewThread { [self] in
            var chunk = [UInt8](repeating: 0, count: 1 << 14)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                data.withLock { data in
                    data.append(contentsOf: chunk[0..<n])
                    if data.count > 1 << 16 { data = data.suffix(1 << 16) }
                }
            }
            close(fd)
        }
    }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
