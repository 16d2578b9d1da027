import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The progress a tool shows on standard error (never stdout): records done of the total when it is
/// known, the record in progress and, for long media, its position in seconds. Drawn in place on a
/// terminal; one line a second with `--progress` elsewhere; written to `$GG_PROGRESS_FILE` instead when
/// pipelines/run.sh collects every stage's progress into its own lines.
public final class ProgressLine: Sendable {
    public static let shared = ProgressLine()

    enum Mode { case off, terminal, lines, file(String) }

    /// What is shown and when it was last drawn.
    struct State {
        var mode = Mode.off
        var tool = ""
        var total: Int?
        var done = 0
        var active: [Int: (label: String, position: Double?, duration: Double?)] = [:]
        var drawn = false
        var lastDraw = 0.0

        var text: String {
            var line = "\(tool): \(done)" + (total.map { "/\($0)" } ?? "") + " done"
            if let (_, current) = active.min(by: { $0.key < $1.key }) {
                line += ", now \(current.label)"
                if let seconds = current.position {
                    line += String(format: " %.0f", seconds) + (current.duration.map { String(format: "/%.0f", $0) } ?? "") + " s"
                }
                if active.count > 1 { line += " (+\(active.count - 1))" }
            }
            return line
        }

        mutating func draw(force: Bool) {
            let now = Date().timeIntervalSince1970
            switch mode {
            case .off:
                return
            case .terminal:
                guard force || now - lastDraw >= 0.1 else { return }
                try? FileHandle.standardError.write(contentsOf: Data(("\r\u{1B}[K" + text).utf8))
                drawn = true
            case .lines:
                guard force || now - lastDraw >= 1 else { return }
                try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
            case .file(let path):
                guard force || now - lastDraw >= 0.2 else { return }
                let temp = path + ".\(getpid())"
                if (try? Data((text + "\n").utf8).write(to: URL(fileURLWithPath: temp))) != nil { rename(temp, path) }
            }
            lastDraw = now
        }
    }

    private let state = Mutex(State())
    private let errorIsTerminal = isatty(2) == 1

    /// Turns progress on as the command line and environment ask: off with `-q`, to a file under run.sh.
    /// `total` is asked for only when progress is shown.
    public func configure(tool: String, forced: Bool, total: () -> Int?) {
        let file = ProcessInfo.processInfo.environment["GG_PROGRESS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let mode: Mode
        if Verbosity.current == .quiet {
            mode = .off
        } else if let file {
            mode = .file(file)
        } else if errorIsTerminal {
            mode = .terminal
        } else {
            mode = forced ? .lines : .off
        }
        if case .off = mode {
            state.withLock { $0.tool = tool; $0.mode = .off }
            return
        }
        let count = total()
        state.withLock { state in
            state.tool = tool
            state.mode = mode
            state.total = count
            state.draw(force: true)
        }
    }

    func started(_ seq: Int, label: String) {
        update { $0.active[seq] = (label, nil, nil) }
    }

    func position(_ seq: Int, seconds: Double, of duration: Double?) {
        update { state in
            guard let entry = state.active[seq] else { return }
            state.active[seq] = (entry.label, seconds, duration)
        }
    }

    func finished(_ seq: Int) {
        update { state in
            state.active[seq] = nil
            state.done += 1
        }
    }

    /// Clears the line for good when the tool is done.
    public func finish() {
        state.withLock { state in
            state.draw(force: true)
            if case .terminal = state.mode, state.drawn { try? FileHandle.standardError.write(contentsOf: Data("\n".utf8)) }
            state.mode = .off
        }
    }

    /// Writes a diagnostic so that it never lands in the middle of the progress line.
    public func print(_ message: String) {
        let clear = errorIsTerminal ? "\r\u{1B}[K" : ""
        state.withLock { state in
            try? FileHandle.standardError.write(contentsOf: Data((clear + message).utf8))
            state.drawn = false
            state.draw(force: true)
        }
    }

    private func update(_ change: (inout State) -> Void) {
        state.withLock { state in
            change(&state)
            state.draw(force: false)
        }
    }
}
