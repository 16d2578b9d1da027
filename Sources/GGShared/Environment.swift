import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Process-level set-up that must happen before libraries initialise.
public enum ProcessEnvironment {
    /// Re-executes the running binary with `variables` set when any is missing, so that
    /// libraries reading them at load time (OpenMP's OMP_THREAD_LIMIT) see them.
    public static func ensure(_ variables: [String: String]) {
        let environment = ProcessInfo.processInfo.environment
        let missing = variables.filter { environment[$0.key] == nil }
        guard !missing.isEmpty, environment["GG_REEXECUTED"] == nil else { return }
        for (key, value) in missing { setenv(key, value, 1) }
        setenv("GG_REEXECUTED", "1", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        for pointer in argv { free(pointer) }
    }

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
}

/// Result of running a subprocess to completion.
public struct SubprocessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var timedOut: Bool
}

/// Runs programs with explicit argument vectors, never through a shell.
public enum Subprocess {
    public static func run(_ executable: String, _ arguments: [String], timeout: Double, cancellation: Cancellation? = nil) throws -> SubprocessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let outBox = DataBox()
        let errBox = DataBox()
        let readers = DispatchGroup()
        for (pipe, box) in [(out, outBox), (err, errBox)] {
            readers.enter()
            DispatchQueue.global().async {
                box.data = pipe.fileHandleForReading.readDataToEndOfFile()
                readers.leave()
            }
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline || cancellation?.isCancelled == true {
                timedOut = true
                process.terminate()
                usleep(200_000)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        readers.wait()
        return SubprocessResult(status: process.terminationStatus, stdout: outBox.data, stderr: errBox.data, timedOut: timedOut)
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
