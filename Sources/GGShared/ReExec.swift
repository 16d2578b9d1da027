import CProcess
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
        // Ignored signals stay ignored across exec (handled ones fall back to dying of them): a stop signal
        // in the moment before the new image notes it again must not kill the stage with its input unread.
        let stopSignals = [SIGTERM, SIGINT].map { ($0, signal($0, SIG_IGN)) }
        if gg_process_pending_stop_signal() != 0 { setenv("GG_STOP_SIGNAL_PENDING", "1", 1) }
        execv("/proc/self/exe", &argv)
        for (number, previous) in stopSignals { signal(number, previous) }
        for pointer in argv { free(pointer) }
    }
}
