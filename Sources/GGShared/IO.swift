import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// sysexits(3) codes the tools exit with.
public enum ExitCode: Int32, Sendable {
    case ok = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case software = 70
    case ioError = 74
    case tempFailure = 75
}

/// One input line with where it came from.
public struct InputLine: Sendable {
    public var source: String
    public var number: Int
    public var bytes: [UInt8]
    public var tooLong: Bool

    public var text: String? { String(validating: bytes, as: UTF8.self) }
}

/// Reads newline-separated lines from a file descriptor in large chunks.
public final class LineReader {
    private let fd: Int32
    /// The descriptor when the reader owns it (closed when the reader goes).
    private let owned: FileDescriptor?
    public let source: String
    private let maxLineBytes: Int
    private var buffer = [UInt8]()
    private var start = 0
    private var eof = false
    private var lineNumber = 0
    private var discarding = false

    /// Reads `fd`, which the caller keeps and closes.
    public init(fd: Int32, source: String, maxLineBytes: Int) {
        self.fd = fd
        owned = nil
        self.source = source
        self.maxLineBytes = maxLineBytes
        buffer.reserveCapacity(1 << 16)
    }

    /// Reads `file`, and owns it.
    public init(file: FileDescriptor, source: String, maxLineBytes: Int) {
        fd = file.raw
        owned = file
        self.source = source
        self.maxLineBytes = maxLineBytes
        buffer.reserveCapacity(1 << 16)
    }

    /// The next line without its terminator, or nil at end of input.
    public func next() throws -> InputLine? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lineNumber += 1
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let wasDiscarding = discarding || end - start > maxLineBytes
                discarding = false
                let line = InputLine(source: source, number: lineNumber, bytes: wasDiscarding ? [] : Array(buffer[start..<end]), tooLong: wasDiscarding)
                start = newline + 1
                return line
            }
            if buffer.count - start > maxLineBytes {
                discarding = true
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            if eof {
                guard start < buffer.count || discarding else { return nil }
                lineNumber += 1
                let line = InputLine(source: source, number: lineNumber, bytes: discarding ? [] : Array(buffer[start...]), tooLong: discarding)
                buffer.removeAll()
                start = 0
                discarding = false
                return line
            }
            if start > 0 {
                buffer.removeSubrange(0..<start)
                start = 0
            }
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = chunk.withUnsafeMutableBytes { SystemIO.read(fd, into: $0) }
        guard n >= 0 else { throw GGError("io", "cannot read \(source): \(String(cString: strerror(errno)))") }
        if n == 0 { eof = true } else { buffer.append(contentsOf: chunk[0..<n]) }
    }
}

/// Buffered record output on stdout; a closed downstream pipe ends the process cleanly.
public final class OutputWriter: Sendable {
    private let handle: FileHandle
    private let buffer = Mutex(Data())
    private let tool: String

    public init(tool: String, handle: FileHandle = .standardOutput) {
        self.tool = tool
        self.handle = handle
        signal(SIGPIPE, SIG_IGN)
    }

    public func writeLine(_ line: String) {
        buffer.withLock { buffer in
            buffer.append(contentsOf: line.utf8)
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 1 << 16 { write(&buffer) }
        }
    }

    public func flush() { buffer.withLock { write(&$0) } }

    private func write(_ buffer: inout Data) {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        } catch {
            if Self.isBrokenPipe(error) { exit(ExitCode.ok.rawValue) }
            Diagnostics(tool: tool).error("cannot write output: \(error.localizedDescription)")
            exit(ExitCode.ioError.rawValue)
        }
    }

    static func isBrokenPipe(_ error: Error) -> Bool {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain && ns.code == Int(EPIPE) { return true }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.code == Int(EPIPE) { return true }
        return errno == EPIPE
    }
}

/// Messages on stderr in the `tool: file:line: severity: message` form.
public struct Diagnostics: Sendable {
    public let tool: String

    public init(tool: String) { self.tool = tool }

    public func error(_ message: String, at location: String? = nil) { emit("error", message, location) }
    public func warning(_ message: String, at location: String? = nil) {
        if Verbosity.current != .quiet { emit("warning", message, location) }
    }
    public func note(_ message: String, at location: String? = nil) {
        if Verbosity.current != .quiet { emit("note", message, location) }
    }
    /// A note only `-v/--verbose` shows.
    public func detail(_ message: String, at location: String? = nil) {
        if Verbosity.current == .verbose { emit("note", message, location) }
    }

    private func emit(_ severity: String, _ message: String, _ location: String?) {
        let prefix = location.map { "\(tool): \($0): " } ?? "\(tool): "
        ProgressLine.shared.print(prefix + severity + ": " + Secrets.redact(message) + "\n")
    }
}

/// How much a tool says on standard error: `-q` errors only, `-v` extra notes.
public enum Verbosity: Sendable {
    case quiet, normal, verbose

    private static let value = Mutex(Verbosity.normal)

    public static var current: Verbosity {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// The exit status of a run: the most severe of every failure seen, by the one rule all gg tools,
/// run.sh, parallel-stage.sh and the Makefile share: 70 > 74 > 69 > 66 > 65 > 64 > 75 > 0.
public final class ExitStatus: Sendable {
    private let worst = Mutex(ExitCode.ok)

    public init() {}

    public func record(_ failure: StageFailure) { fail(ExitStatus.code(for: failure)) }

    public func fail(_ code: ExitCode) { worst.withLock { $0 = ExitStatus.worse($0, code) } }

    public var code: ExitCode { worst.withLock { $0 } }

    /// Severity rank: higher is worse.
    public static func severity(_ code: ExitCode) -> Int {
        switch code {
        case .ok: return 0
        case .tempFailure: return 1
        case .usage: return 2
        case .dataError: return 3
        case .noInput: return 4
        case .unavailable: return 5
        case .ioError: return 6
        case .software: return 7
        }
    }

    public static func worse(_ a: ExitCode, _ b: ExitCode) -> ExitCode { severity(b) > severity(a) ? b : a }

    /// The exit code a failure stands for: a bug 70, I/O 74, a missing program, engine or model of ours
    /// (`*_unavailable`) 69, a failure worth retrying (timeouts, network, interrupted) 75, anything else
    /// bad data 65 (a page that is private or removed, `unavailable`, among them).
    public static func code(for failure: StageFailure) -> ExitCode {
        switch failure.kind {
        case "internal", "engine_failed": return .software
        case "io", "cleanup_failed": return .ioError
        case let kind where kind.hasSuffix("_unavailable"): return .unavailable
        case "no_input": return .noInput
        case "timeout", "interrupted": return .tempFailure
        default: return failure.retryable ? .tempFailure : .dataError
        }
    }
}
