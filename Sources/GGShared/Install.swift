import Foundation

/// The whisper models scripts/setup-whisper installs, relative to its folder.
public enum WhisperModels {
    /// Multilingual Whisper base, 8-bit: the default (language detected).
    public static let multilingual = "models/ggml-base-q8_0.bin"
    /// English-only tiny.en, 8-bit: the fast choice for English speech.
    public static let english = "models/ggml-tiny.en-q8_0.bin"
}

/// Finds folders that set-up scripts fill beside the checkout (`.whisper`, `.tools`) or install under a prefix.
public enum InstallLocator {
    /// `$variable` when set; else `name` in the nearest folder above the executable (followed through
    /// symbolic links, and as started) holding one of `markers`, which finds the checkout's from
    /// `.build/release` and `.build/<triple>/release` alike; else `<prefix>/share/gg/<shareName>` beside a
    /// copied binary's `bin/`, then /usr/local/share/gg and /usr/share/gg.
    public static func find(_ name: String, markers: [String], variable: String, shareName: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let explicit = environment[variable], !explicit.isEmpty { return explicit }
        let fm = FileManager.default
        let started = URL(fileURLWithPath: CommandLine.arguments[0], relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath))
        let real = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map(URL.init(fileURLWithPath:))
        let executables = [real, started.standardizedFileURL].compactMap { $0 }
        for executable in executables {
            var folder = executable.deletingLastPathComponent()
            while true {
                let candidate = folder.appendingPathComponent(name)
                if markers.contains(where: { fm.fileExists(atPath: candidate.appendingPathComponent($0).path) }) {
                    return candidate.path
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        let installed = executables.map { $0.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("share/gg/\(shareName)").path }
            + ["/usr/local/share/gg/\(shareName)", "/usr/share/gg/\(shareName)"]
        return installed.first { fm.fileExists(atPath: $0) }
    }
}
