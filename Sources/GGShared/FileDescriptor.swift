import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor closed exactly once: by `close()` or when its owner goes.
public final class FileDescriptor: Sendable {
    private let value: Mutex<Int32>

    public init(_ raw: Int32) { value = Mutex(raw) }

    /// The descriptor, or -1 once closed.
    public var raw: Int32 { value.withLock { $0 } }

    public func close() {
        value.withLock { fd in
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
    }

    deinit { close() }

    /// open(2) with close-on-exec; the error names the path.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw GGError("io", "cannot open \(path): \(String(cString: strerror(errno)))") }
        return FileDescriptor(fd)
    }

    /// Gives the descriptor up to a new owner (libmicrohttpd, which closes a response's file): -1 if closed.
    public func release() -> Int32 {
        value.withLock { fd in
            defer { fd = -1 }
            return fd
        }
    }

    /// `SystemIO.read` on this descriptor.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int { SystemIO.read(raw, into: buffer) }

    /// `SystemIO.writeAll` on this descriptor.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool { SystemIO.writeAll(raw, bytes) }

    /// A pipe whose ends close on exec and when released: (read, write).
    public static func pipe() throws -> (FileDescriptor, FileDescriptor) {
        let (read, write) = try ChildProcess.pipe()
        return (FileDescriptor(read), FileDescriptor(write))
    }
}

/// System calls on raw descriptors, with EINTR retried here and nowhere else.
public enum SystemIO {
    /// read(2): the bytes read, 0 at end of input, or -1 with `errno` set (EAGAIN on a non-blocking descriptor
    /// with nothing to read).
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 || errno != EINTR { return n }
        }
    }

    /// Writes every byte, through short writes (send(2) without SIGPIPE for a `socket`); false once the
    /// descriptor fails or its reader has gone.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, socket: Bool = false) -> Bool {
        guard fd >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let rest = bytes.count - offset, from = bytes.baseAddress! + offset
            let n = socket ? send(fd, from, rest, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, from, rest)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// accept(2) of a connection whose descriptor closes on exec; -1 once the listener fails or is closed.
    public static func accept(_ listener: Int32) -> Int32 {
        while true {
            let client = Glibc.accept(listener, nil, nil)
            if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }
            if client >= 0 || errno != EINTR { return client }
        }
    }

    /// waitpid(2): the child's pid once it has ended, 0 while it runs (with WNOHANG), -1 with `errno` set.
    public static func waitpid(_ pid: pid_t, _ status: inout Int32, _ options: Int32) -> pid_t {
        while true {
            let result = Glibc.waitpid(pid, &status, options)
            if result >= 0 || errno != EINTR { return result }
        }
    }
}

/// The environment a child process gets: only the variables it needs, never secrets such as
/// GG_API_TOKEN or credentials a parent happens to hold, nor configuration a tool would act on unasked.
public enum ChildEnvironment {
    /// Variables every gg child may see.
    public static let allowed: Set<String> = [
        "PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR",
        "TESSDATA_PREFIX", "OMP_THREAD_LIMIT", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
        "GG_WHISPER_MODEL", "GG_WHISPER_LIB", "GG_WHISPER_HOME", "GG_TOOLS_HOME", "GG_CACHE_DIR", "GG_CACHE_MAX_BYTES", "GG_RESOLVER_ARGS",
        "GG_PROGRESS_TOTAL", "GG_PROGRESS_FILE",
    ]

    /// The allowed part of `environment`, with `extra` set on top.
    public static func filtered(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                extra: [String: String] = [:]) -> [String: String] {
        var kept = environment.filter { allowed.contains($0.key) }
        for (key, value) in extra { kept[key] = value }
        return kept
    }
}
