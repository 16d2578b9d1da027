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
}
