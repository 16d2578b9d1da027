import CProcess
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Resource limits a child process runs under (0 leaves one as inherited).
public struct ProcessLimits: Sendable {
    public var addressSpaceBytes: UInt64 = 0
    public var fileSizeBytes: UInt64 = 0
    public var cpuSeconds: UInt64 = 0
    public var openFiles: UInt64 = 0

    public init(addressSpaceBytes: UInt64 = 0, fileSizeBytes: UInt64 = 0, cpuSeconds: UInt64 = 0, openFiles: UInt64 = 0) {
        self.addressSpaceBytes = addressSpaceBytes
        self.fileSizeBytes = fileSizeBytes
        self.cpuSeconds = cpuSeconds
        self.openFiles = openFiles
    }

    public static let none = ProcessLimits()
}

/// Result of running a subprocess to completion.
public struct SubprocessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    /// The time limit ran out, or the caller's work was cancelled, and the process group was killed.
    public var timedOut: Bool
    /// The process printed more than the output limit and its group was killed.
    public var outputTooLarge: Bool
}

/// A running child in a process group of its own (its pid is the group id), started with an argument
/// vector, never a shell. The group is killed by `stop`, and by the stage's exit or signal handlers.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The exit status once reaped; the lock also keeps two threads from reaping at once.
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` with the given descriptors as its standard input, output and error (-1: /dev/null),
    /// and `environment`, or else the allow-listed part of this process's (`ChildEnvironment`).
    public init(_ executable: String, _ arguments: [String], stdin: Int32 = -1, stdout: Int32 = -1, stderr: Int32 = -1,
                environment: [String: String]? = nil, directory: String? = nil, limits: ProcessLimits = .none) throws {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let variables = (environment ?? ChildEnvironment.filtered()).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var cLimits = gg_process_limits(address_space_bytes: limits.addressSpaceBytes, file_size_bytes: limits.fileSizeBytes,
                                        cpu_seconds: limits.cpuSeconds, open_files: limits.openFiles)
        let pid = gg_process_spawn(executable, argv, variables, directory, stdin, stdout, stderr, &cLimits)
        guard pid > 0 else { throw GGError("program_unavailable", "cannot run \(executable): \(String(cString: strerror(errno)))") }
        self.pid = pid
    }

    /// A pipe whose ends close on exec: (read, write).
    public static func pipe() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard gg_process_pipe(&fds) == 0 else { throw GGError("io", "cannot create a pipe: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    /// SIGTERM to the whole group, then SIGKILL after `grace` seconds if the child is still there.
    public func stop(grace: Double = 1) {
        kill(-pid, SIGTERM)
        if gg_process_wait_exit(pid, Int32(grace * 1000)) < 0 {
            let deadline = Date().addingTimeInterval(grace)
            while Date() < deadline && poll() == nil { usleep(20_000) }
        }
        kill(-pid, SIGKILL)
    }

    /// The exit status (128 + signal when killed) once the child has ended, else nil; reaps it.
    public func poll() -> Int32? { reap(block: false) }

    /// Waits for the child and returns its exit status; the group's leftovers are killed.
    @discardableResult
    public func wait() -> Int32 {
        let status = reap(block: true) ?? -1
        kill(-pid, SIGKILL)
        return status
    }

    private func reap(block: Bool) -> Int32? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            let result = SystemIO.waitpid(pid, &raw, block ? 0 : WNOHANG)
            if result == 0 { return nil }
            guard result == pid else {
                status = -1
                gg_process_forget(pid)
                return status
            }
            let signal = raw & 0x7f
            status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            gg_process_forget(pid)
            return status
        }
    }
}

/// Runs programs with explicit argument vectors, never through a shell: each in a process group of its
/// own, killed as a group on timeout, on cancellation, when it leaves members behind, and when the stage exits.
public enum Subprocess {
    /// Looks a program up on PATH the way a shell would, without running a shell.
    public static func which(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    public static func run(_ executable: String, _ arguments: [String], timeout: Double, cancellation: Cancellation? = nil,
                           environment: [String: String]? = nil, directory: String? = nil, limits: ProcessLimits = .none,
                           maxOutputBytes: Int = 64 << 20) throws -> SubprocessResult {
        let (outRead, outWrite) = try ChildProcess.pipe()
        let (errRead, errWrite) = try ChildProcess.pipe()
        let collector = OutputCollector(fds: [outRead, errRead], limit: maxOutputBytes)
        defer { collector.closeAll() }
        let child: ChildProcess
        do {
            defer { close(outWrite); close(errWrite) }
            child = try ChildProcess(executable, arguments, stdout: outWrite, stderr: errWrite, environment: environment, directory: directory, limits: limits)
        }
        let deadline = timeout > 0 ? Date().addingTimeInterval(timeout) : .distantFuture
        var exitStatus: Int32?
        var timedOut = false
        while exitStatus == nil {
            collector.poll(milliseconds: 20)
            exitStatus = child.poll()
            if exitStatus != nil || collector.overflowed { break }
            if Date() > deadline || cancellation?.isCancelled == true {
                timedOut = true
                break
            }
        }
        if exitStatus == nil { child.stop(grace: 0.3) }
        let status = child.wait()
        if !timedOut && !collector.overflowed { collector.drain(until: Date().addingTimeInterval(1)) }
        return SubprocessResult(status: exitStatus ?? status, stdout: collector.data[0], stderr: collector.data[1],
                                timedOut: timedOut, outputTooLarge: collector.overflowed)
    }
}

/// Reads a child's output pipes without ever blocking past the caller's limit.
private final class OutputCollector {
    var fds: [Int32]
    var data: [Data]
    let limit: Int
    var overflowed = false

    init(fds: [Int32], limit: Int) {
        self.fds = fds
        self.limit = limit
        data = fds.map { _ in Data() }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    var open: Bool { fds.contains { $0 >= 0 } }

    func poll(milliseconds: Int32) {
        var watched = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard open else {
            usleep(UInt32(milliseconds) * 1000)
            return
        }
        guard Glibc.poll(&watched, nfds_t(watched.count), milliseconds) > 0 else { return }
        for (index, entry) in watched.enumerated() where entry.fd >= 0 && entry.revents != 0 { read(index) }
    }

    /// Reads what the pipes still hold, until every writer has closed them or the time is up.
    func drain(until deadline: Date) {
        while open && Date() < deadline && !overflowed { poll(milliseconds: 20) }
    }

    private func read(_ index: Int) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { SystemIO.read(fds[index], into: $0) }
            if n > 0 {
                data[index].append(contentsOf: buffer[0..<n])
                if data[index].count > limit {
                    overflowed = true
                    data[index] = data[index].prefix(limit)
                    return
                }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            close(fds[index])
            fds[index] = -1
            return
        }
    }

    func closeAll() {
        for fd in fds where fd >= 0 { close(fd) }
        fds = fds.map { _ in -1 }
    }
}
