import CProcess
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Cooperative cancellation shared between the runner and a record's work.
/// Unchecked only for `flag`, a word C libraries poll, written under the same lock as the reason.
public final class Cancellation: @unchecked Sendable {
    /// Why a record's work was stopped.
    public enum Reason: Int32, Sendable {
        case timeout = 1
        case interrupted = 2
    }

    private let reason = Mutex<Reason?>(nil)
    private let word = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    public init() { word.initialize(to: 0) }

    deinit { word.deallocate() }

    public var isCancelled: Bool { reason.withLock { $0 != nil } }

    /// A word that becomes non-zero on cancellation, for C libraries that poll an abort flag.
    public var flag: UnsafePointer<Int32> { UnsafePointer(word) }

    public func cancel(_ why: Reason = .timeout) {
        reason.withLock { reason in
            if reason == nil { reason = why }
            word.pointee = why.rawValue
        }
    }

    /// The error a cancelled record's work stops with.
    public var error: GGError {
        reason.withLock { $0 } == .interrupted ? GGError("interrupted", "the stage was stopped by a signal", retryable: true)
            : GGError("timeout", "record exceeded its time limit", retryable: true)
    }

    /// Throws `error` once the record's work has been cancelled.
    public func check() throws {
        if isCancelled { throw error }
    }
}

/// What a stage's work on one record may look at.
public struct StageContext: Sendable {
    public let stage: String
    public let workDir: URL
    public let readableRoots: [String]
    public let location: String
    public let cancellation: Cancellation
    public let diagnostics: Diagnostics
    /// The record's place among the input's records (blank lines not counted), from 0.
    public internal(set) var sequence = -1

    public init(stage: String, workDir: URL, readableRoots: [String] = [], location: String, cancellation: Cancellation = Cancellation(),
                diagnostics: Diagnostics) {
        self.stage = stage
        self.workDir = workDir
        self.readableRoots = readableRoots
        self.location = location
        self.cancellation = cancellation
        self.diagnostics = diagnostics
    }

    /// The work root: the only place a record's files may be.
    public var root: WorkRoot { WorkRoot(workDir, readable: readableRoots) }

    /// Runs `body` on each item `selected` picks, after checking that the item's file is under the work
    /// root. An item's failure becomes its `error` and the record goes on; a cancelled record stops.
    public func forEachItem(_ items: inout [Item], where selected: (Item) -> Bool, _ body: (inout Item) throws -> Void) throws {
        let root = self.root
        for index in items.indices where items[index].error == nil && selected(items[index]) {
            try cancellation.check()
            do {
                _ = try root.confine(items[index].path)
                try body(&items[index])
            } catch let error as GGError where !error.stopsRecord {
                items[index].error = error.failure(stage: stage)
            }
        }
    }

    /// Reports how far into a long medium the work on this record is, for the progress line.
    public func reportPosition(_ seconds: Double, of duration: Double?) {
        if sequence >= 0 { ProgressLine.shared.position(sequence, seconds: seconds, of: duration) }
    }

    public func failure(_ error: Error) -> StageFailure {
        if let failure = error as? StageFailure { return failure }
        if let gg = error as? GGError { return gg.failure(stage: stage) }
        if let file = error as? CocoaError, file.isFileError {
            return StageFailure(stage: stage, kind: "io", message: file.localizedDescription)
        }
        return StageFailure(stage: stage, kind: "internal", message: String(describing: error))
    }

    /// The folder for one record's files under the work root.
    public func recordDir(_ record: Record) -> URL {
        let id = record.id ?? Record.id(for: record.url ?? "")
        let safe = !id.isEmpty && !id.contains("/") && id != "." && id != ".." ? id : Record.id(for: id)
        return workDir.appendingPathComponent(safe, isDirectory: true)
    }
}

/// Reads records, processes them on `--jobs` threads, and writes them in input order.
/// SIGTERM or SIGINT stops it processing: work in flight is cancelled (its records come out as
/// `interrupted` errors), child process groups are killed, the rest of the input is read to its end and
/// each record in it written as an `interrupted` error (records that already carry an error pass through),
/// so a pipeline whose stages all got the signal still has one record per input line; then it exits 75.
/// Should the input not end within `drainSeconds`, what is finished is written and it exits all the same.
public final class StageRunner: @unchecked Sendable {
    public let tool: ToolInfo
    public let options: ParsedOptions
    public let diagnostics: Diagnostics
    public let jobs: Int
    public let timeout: Double
    /// Turn lines that are not records into error results instead of stopping (`--keep-going`).
    public var keepGoing: Bool
    public let workDir: URL
    public let maxLineBytes: Int
    /// Folders besides the work root that records may name files in (`--allow-root`).
    public let readableRoots: [String]
    public let status = ExitStatus()

    /// Skips input lines starting with `#` (gg-fetch's URL lists may carry comments).
    public var skipsComments = false
    /// Writes one JSON document `{"results": [...]}` instead of one line per record.
    public var arrayOutput = false
    private var emittedCount = 0
    /// The most bytes of records to write in all; a record that would pass it is replaced by its
    /// `output_too_large` error result (gg-assemble's `--max-output-bytes`).
    public var maxOutputBytes: Int?
    private var emittedBytes = 0
    /// Where a small summary line of each record goes, written before the record itself (gg-assemble's `--summary`).
    public var summaryHandle: FileHandle?

    /// Turns one non-blank input line into a record; gg-fetch also accepts bare URLs.
    /// Turns an input line (and its number in the whole input) into a record.
    public var decodeLine: @Sendable (String, Int) throws -> Record = { text, _ in try RecordJSON.decodeRecord(text) }
    /// The number of the first input line: parallel-stage.sh gives each chunk its place in the whole
    /// input, so diagnostics and ids name the original line (`--first-line`).
    public let firstLine: Int

    private let writer: OutputWriter
    private let lock = NSLock()
    private struct Finished {
        var line: String
        var failures: [StageFailure]
        var carried: [StageFailure]
        var location: String
        var summary: String?
        /// The record's error result, and its failures, in case the output budget has no room for `line`.
        var overBudget: (line: String, failures: [StageFailure], summary: String?)?
    }

    private var pending: [Int: Finished] = [:]
    private var nextToEmit = 0
    private var active: [Int: Cancellation] = [:]
    private var stopping = false
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    private let window: DispatchSemaphore
    /// The threads records run on (`--jobs` of them) and the one thread that times them out.
    private let workers: WorkerPool
    private let deadlines = DeadlineWatcher()
    private var signalSources: [DispatchSourceSignal] = []
    /// After a signal, how long the rest of the input may take to arrive before the stage exits regardless.
    public static let drainSeconds = 30.0

    public init(tool: ToolInfo, arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        self.tool = tool
        options = ParsedOptions(tool: tool, arguments: arguments)
        diagnostics = Diagnostics(tool: tool.name)
        jobs = options.int("--jobs", default: ProcessInfo.processInfo.activeProcessorCount, min: 1, max: 256)
        timeout = tool.takesTimeout ? options.double("--timeout", default: 0, min: 0, max: 604_800) : 0
        keepGoing = options.flag("--keep-going")
        maxLineBytes = options.int("--max-line-bytes", default: 16 << 20, min: 1024, max: 1 << 30)
        firstLine = options.int("--first-line", default: 1, min: 1, max: Int(Int32.max))
        let dir = options.string("--work-dir") ?? ProcessInfo.processInfo.environment["GG_WORK_DIR"] ?? "gg-work"
        workDir = URL(fileURLWithPath: dir, isDirectory: true).standardizedFileURL
        readableRoots = (options.string("--allow-root") ?? "").split(separator: ":").map(String.init)
        writer = OutputWriter(tool: tool.name)
        slots = DispatchSemaphore(value: jobs)
        window = DispatchSemaphore(value: jobs * 4)
        workers = WorkerPool(maxThreads: jobs, name: tool.name)
        for number in [SIGTERM, SIGINT, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.interrupt(number) }
            source.resume()
            signalSources.append(source)
        }
        let early = gg_process_pending_stop_signal() != 0 ? gg_process_pending_stop_signal()
            : ProcessInfo.processInfo.environment["GG_STOP_SIGNAL_PENDING"] != nil ? SIGTERM : 0
        unsetenv("GG_STOP_SIGNAL_PENDING")
        if early != 0 { DispatchQueue.global().async { [unowned self] in self.interrupt(early) } }
    }

    /// Runs `process` over every input record and exits with the run's status. Records that
    /// already carry an error, or a cached final result, pass through untouched.
    public func run(_ process: @escaping @Sendable (Record, StageContext) throws -> Record) -> Never {
        let stage = tool.stage
        runTransform(passErrors: true, process, failed: { record, failure in
            var failed = record
            failed.error = failure
            if failed.id == nil, let url = failed.url { failed.id = Record.id(for: url) }
            return failed
        }, failures: { StageRunner.failures(in: $0, stage: stage) })
    }

    /// Runs `process` turning each record into some other output (gg-assemble's results).
    /// `failed` builds the output for a record whose processing failed or timed out.
    public func runTransform<Output: Encodable & Sendable>(
        passErrors: Bool,
        _ process: @escaping @Sendable (Record, StageContext) throws -> Output,
        failed: @escaping @Sendable (Record, StageFailure) -> Output,
        failures: @escaping @Sendable (Output) -> [StageFailure],
        carried: @escaping @Sendable (Output) -> [StageFailure] = { _ in [] },
        summary: (@Sendable (Output) -> String)? = nil
    ) -> Never {
        var sequence = 0
        let inputs = options.inputs.isEmpty ? ["-"] : options.inputs
        ProgressLine.shared.configure(tool: tool.name, forced: options.flag("--progress"), total: { self.countRecords(inputs) })
        for input in inputs {
            let reader: LineReader
            if input == "-" {
                reader = LineReader(fd: 0, source: "<stdin>", maxLineBytes: maxLineBytes)
            } else {
                do {
                    reader = LineReader(file: try FileDescriptor.open(input, O_RDONLY), source: input, maxLineBytes: maxLineBytes)
                } catch {
                    diagnostics.error((error as? GGError)?.message ?? "cannot open \(input)")
                    status.fail(.noInput)
                    continue
                }
            }
            while true {
                let line: InputLine
                do {
                    guard let next = try reader.next() else { break }
                    line = next
                } catch {
                    diagnostics.error(String(describing: error))
                    status.fail(.ioError)
                    break
                }
                if !line.tooLong && line.bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                if skipsComments && line.bytes.first(where: { $0 != 32 && $0 != 9 }) == UInt8(ascii: "#") { continue }
                let number = line.number + firstLine - 1
                let location = "\(line.source):\(number)"
                let seq = sequence
                sequence += 1
                switch decode(line, number: number) {
                case .success(let record):
                    if passErrors, record.error != nil || record.cachedResult != nil, let text = line.text {
                        window.wait()
                        ProgressLine.shared.started(seq, label: StageRunner.progressLabel(record))
                        complete(seq, Finished(line: text, failures: [], carried: [], location: location))
                        ProgressLine.shared.finished(seq)
                    } else if isStopping {
                        let failure = StageFailure(stage: tool.stage, kind: "interrupted", message: "the stage was stopped by a signal", retryable: true)
                        let output = failed(record, failure)
                        window.wait()
                        complete(seq, Finished(line: RecordJSON.encodeLine(output), failures: StageRunner.adding([failure], to: failures(output)),
                                               carried: carried(output), location: location, summary: summary?(output)))
                    } else {
                        schedule(seq, record, location: location, process: process, failed: failed, failures: failures, carried: carried, summary: summary)
                    }
                case .failure(let error):
                    if !keepGoing {
                        finishInFlight()
                        diagnostics.error("malformed record: \(error.message)", at: location)
                        exit(ExitCode.dataError.rawValue)
                    }
                    let failure = StageFailure(stage: tool.stage, kind: error.kind, message: "\(location): \(error.message)")
                    window.wait()
                    let output = failed(Record(), failure)
                    complete(seq, Finished(line: RecordJSON.encodeLine(output), failures: [failure], carried: [], location: location,
                                           summary: summary?(output)))
                }
            }
        }
        finishInFlight()
        ProgressLine.shared.finish()
        if isStopping { status.fail(.tempFailure) }
        exit(status.code.rawValue)
    }

    /// How many records the inputs hold, when they are files (a stage makes one record of every line
    /// that is not blank); else what `$GG_PROGRESS_TOTAL` says (run.sh counts its URL list).
    private func countRecords(_ inputs: [String]) -> Int? {
        guard inputs.allSatisfy({ $0 != "-" }) else {
            return ProcessInfo.processInfo.environment["GG_PROGRESS_TOTAL"].flatMap { Int($0) }
        }
        var count = 0
        for input in inputs {
            var info = stat()
            guard stat(input, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size < 1 << 30,
                  let data = FileManager.default.contents(atPath: input) else { return nil }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let first = line.first(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { continue }
                if !(skipsComments && first == UInt8(ascii: "#")) { count += 1 }
            }
        }
        return count
    }

    static func progressLabel(_ record: Record) -> String {
        let label = record.id ?? record.url ?? "?"
        return label.count > 48 ? String(label.prefix(45)) + "..." : label
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Stops on a signal: no more records are taken, work in flight is cancelled and its child
    /// processes killed, finished records are written, and the process exits 75.
    private func interrupt(_ number: Int32) {
        lock.lock()
        guard !stopping else {
            lock.unlock()
            return
        }
        stopping = true
        let running = Array(active.values)
        lock.unlock()
        diagnostics.warning("stopping on signal \(number): \(running.count) record(s) in flight and the rest of the input are written as 'interrupted'")
        running.forEach { $0.cancel(.interrupted) }
        gg_process_kill_all(SIGTERM)
        Thread.sleep(forTimeInterval: 5)
        gg_process_kill_all(SIGKILL)
        Thread.sleep(forTimeInterval: StageRunner.drainSeconds - 5)
        finishInFlight(waiting: false)
        lock.lock()
        diagnostics.warning("the input did not end within \(Int(StageRunner.drainSeconds)) s of the signal; exiting with what is finished")
        _exit(ExitCode.tempFailure.rawValue)
    }

    private func decode(_ line: InputLine, number: Int) -> Swift.Result<Record, GGError> {
        if line.tooLong { return .failure(GGError("malformed_record", "line longer than \(maxLineBytes) bytes")) }
        guard let text = line.text else { return .failure(GGError("malformed_record", "line is not valid UTF-8")) }
        do {
            return .success(try decodeLine(text, number))
        } catch let error as DecodingError {
            return .failure(GGError("malformed_record", error.briefDescription))
        } catch let error as GGError {
            return .failure(error)
        } catch {
            return .failure(GGError("malformed_record", String(describing: error)))
        }
    }

    private var finalized = false

    /// Waits for the records in flight, then ends the output (once, whoever calls it first).
    private func finishInFlight(waiting: Bool = true) {
        if waiting { group.wait() }
        lock.lock()
        defer { lock.unlock() }
        guard !finalized else { return }
        finalized = true
        if arrayOutput { writer.writeLine(emittedCount == 0 ? "{\"results\":[]}" : "]}") }
        writer.flush()
    }

    private func schedule<Output: Encodable & Sendable>(
        _ seq: Int, _ record: Record, location: String,
        process: @escaping @Sendable (Record, StageContext) throws -> Output,
        failed: @escaping @Sendable (Record, StageFailure) -> Output,
        failures: @escaping @Sendable (Output) -> [StageFailure],
        carried: @escaping @Sendable (Output) -> [StageFailure],
        summary: (@Sendable (Output) -> String)?
    ) {
        window.wait()
        slots.wait()
        var made = StageContext(stage: tool.stage, workDir: workDir, readableRoots: readableRoots, location: location, diagnostics: diagnostics)
        made.sequence = seq
        let context = made
        lock.lock()
        if stopping { context.cancellation.cancel(.interrupted) }
        active[seq] = context.cancellation
        group.enter()
        lock.unlock()
        ProgressLine.shared.started(seq, label: StageRunner.progressLabel(record))
        workers.submit { [self] in
            let claim = OnceClaim()
            let finish: @Sendable (Output) -> Void = { [self] output in finishRecord(seq, record, output, location: location, failed: failed,
                                                                                   failures: failures, carried: carried, summary: summary) }
            let deadline = timeout > 0 ? deadlines.add(after: timeout) { [self] in
                guard claim.take() else { return }
                context.cancellation.cancel(.timeout)
                finish(failed(record, StageFailure(stage: tool.stage, kind: "timeout", message: "record took longer than \(timeout) s", retryable: true)))
            } : nil
            let output: Output
            do {
                output = try process(record, context)
            } catch {
                output = failed(record, context.failure(error))
            }
            if let deadline { deadlines.remove(deadline) }
            if claim.take() { finish(output) }
            lock.lock()
            active[seq] = nil
            lock.unlock()
            slots.signal()
            group.leave()
        }
    }

    /// Encodes a record's output (or the failure it becomes when too large) and hands it on for output in order.
    /// A record that runs out of time gets its `timeout` output at once, from the deadline watcher, but keeps its
    /// slot (and any pooled engine) until its cancelled work stops, so no more than `--jobs` records ever run.
    private func finishRecord<Output: Encodable & Sendable>(
        _ seq: Int, _ record: Record, _ result: Output, location: String,
        failed: @Sendable (Record, StageFailure) -> Output,
        failures: @Sendable (Output) -> [StageFailure],
        carried: @Sendable (Output) -> [StageFailure],
        summary: (@Sendable (Output) -> String)?
    ) {
        var output = result
        var line = RecordJSON.encodeLine(output)
        var tooLarge: [StageFailure] = []
        if line.utf8.count > maxLineBytes {
            let failure = StageFailure(stage: tool.stage, kind: "record_too_large",
                                      message: "the record would be \(line.utf8.count) bytes, over --max-line-bytes \(maxLineBytes)")
            output = failed(Record(id: record.id, url: record.url, kind: record.kind), failure)
            line = RecordJSON.encodeLine(output)
            tooLarge = [failure]
        }
        var done = Finished(line: line, failures: StageRunner.adding(tooLarge, to: failures(output)), carried: carried(output),
                            location: location, summary: summary?(output))
        if let maxOutputBytes {
            let failure = StageFailure(stage: tool.stage, kind: "output_too_large",
                                      message: "the results would pass --max-output-bytes \(maxOutputBytes); this one was left out")
            let refused = failed(Record(id: record.id, url: record.url, kind: record.kind), failure)
            done.overBudget = (RecordJSON.encodeLine(refused), StageRunner.adding([failure], to: failures(refused)), summary?(refused))
        }
        complete(seq, done)
        ProgressLine.shared.finished(seq)
    }

    /// `extra` failures not already among `failures`.
    static func adding(_ extra: [StageFailure], to failures: [StageFailure]) -> [StageFailure] {
        failures + extra.filter { !failures.contains($0) }
    }

    /// Emits finished records in input order. `failures` are this stage's (reported and counted);
    /// `carried` ones came from earlier stages and only count towards the exit status.
    private func complete(_ seq: Int, _ finished: Finished) {
        lock.lock()
        pending[seq] = finished
        var emitted = 0
        while var next = pending.removeValue(forKey: nextToEmit) {
            if let maxOutputBytes, let refused = next.overBudget, emittedBytes + next.line.utf8.count + 1 > maxOutputBytes {
                (next.line, next.failures, next.summary) = refused
                next.carried = []
            }
            emittedBytes += next.line.utf8.count + 1
            for failure in next.failures {
                status.record(failure)
                diagnostics.error("\(failure.kind): \(failure.message)", at: next.location)
            }
            next.carried.forEach(status.record)
            if let summaryHandle, let summary = next.summary {
                try? summaryHandle.write(contentsOf: Data((summary + "\n").utf8))
            }
            if arrayOutput {
                writer.writeLine((emittedCount == 0 ? "{\"results\":[" : ",") + next.line)
            } else {
                writer.writeLine(next.line)
            }
            emittedCount += 1
            nextToEmit += 1
            emitted += 1
        }
        if emitted > 0 { writer.flush() }
        lock.unlock()
        for _ in 0..<emitted { window.signal() }
    }

    /// Failures a stage added to a record: on the record, its items, or their scenes.
    public static func failures(in record: Record, stage: String) -> [StageFailure] {
        var found = [StageFailure]()
        if let error = record.error, error.stage == stage { found.append(error) }
        for item in record.items ?? [] {
            if let error = item.error, error.stage == stage { found.append(error) }
            for scene in item.scenes ?? [] {
                if let error = scene.error, error.stage == stage { found.append(error) }
            }
        }
        return found
    }
}
