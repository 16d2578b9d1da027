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

    /// A pipe whose ends close on exec and when released: (read, write).
    public static func pipe() throws -> (FileDescriptor, FileDescriptor) {
        let (read, write) = try ChildProcess.pipe()
        return (FileDescriptor(read), FileDescriptor(write))
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
