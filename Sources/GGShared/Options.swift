import Foundation

/// One command-line option as shown in `--help`.
public struct OptionSpec: Sendable {
    public let name: String
    public let value: String?
    public let help: String
    public let defaultValue: String?

    public init(_ name: String, value: String? = nil, default defaultValue: String? = nil, _ help: String) {
        self.name = name
        self.value = value
        self.help = help
        self.defaultValue = defaultValue
    }
}

/// What a tool is: its name, help text, options and the libraries it reports in `--version`.
public struct ToolInfo: Sendable {
    public static let version = "0.1.0"

    public let name: String
    public let summary: String
    public let details: String
    public let options: [OptionSpec]
    /// Lines `--version` prints under the tool's own, given the rest of the command line.
    public let libraries: @Sendable (ParsedOptions) -> [String]
    /// Whether records can run out of time here (`--timeout`); gg-assemble does no media work.
    public let takesTimeout: Bool
    /// Whether the tool is a record stage (and so takes the common stage options).
    public let isStage: Bool

    public init(name: String, summary: String, details: String, options: [OptionSpec], takesTimeout: Bool = true, isStage: Bool = true,
                libraries: @escaping @Sendable (ParsedOptions) -> [String] = { _ in [] }) {
        self.name = name
        self.summary = summary
        self.details = details
        self.options = options
        self.takesTimeout = takesTimeout
        self.isStage = isStage
        self.libraries = libraries
    }

    /// The options this tool takes: its own and the common ones.
    public var allOptions: [OptionSpec] {
        guard isStage else { return options + ToolInfo.commonOptions.filter { ToolInfo.everyToolOptions.contains($0.name) } }
        return options + ToolInfo.commonOptions.filter { takesTimeout || $0.name != "--timeout" }
    }

    public var stage: String { name.hasPrefix("gg-") ? String(name.dropFirst(3)) : name }

    /// Options every record-processing tool takes.
    public static let commonOptions: [OptionSpec] = [
        OptionSpec("--jobs", value: "N", default: "number of CPUs", "records processed at once; output keeps input order"),
        OptionSpec("--timeout", value: "S", default: "0 = none", "seconds allowed per record; a record over it gets a 'timeout' error"),
        OptionSpec("--keep-going", "turn a malformed input line into an error record instead of stopping with status 65"),
        OptionSpec("--work-dir", value: "DIR", default: "$GG_WORK_DIR or ./gg-work", "work root where media and derived files are written"),
        OptionSpec("--allow-root", value: "DIRS", "also read (never delete) files under these folders, separated by ':'"),
        OptionSpec("--max-line-bytes", value: "N", default: "16777216", "longest input line accepted"),
        OptionSpec("--first-line", value: "N", default: "1", "number input lines from N in diagnostics and ids (parallel-stage.sh gives each chunk its place in the whole input)"),
        OptionSpec("--progress", "show progress on standard error even when it is not a terminal (records done of total, the current one, its position in seconds)"),
        OptionSpec("-v, --verbose", "more notes on standard error (gg-scenes: how each video is decoded)"),
        OptionSpec("-q, --quiet", "only errors on standard error: no notes, warnings or progress"),
        OptionSpec("-h, --help", "print this help and exit"),
        OptionSpec("--version", "print the tool and library versions and exit"),
    ]

    /// Common options that tools which do not process records (gg-serve) take too.
    static let everyToolOptions: Set<String> = ["-v, --verbose", "-q, --quiet", "-h, --help", "--version"]

    /// Short spellings of long options.
    static let shortOptions = ["-h": "--help", "-v": "--verbose", "-q": "--quiet"]

    public var helpText: String { helpText(width: ToolInfo.helpWidth()) }

    /// The help, wrapped to `width` columns: prose re-flowed, indented lines (examples) kept as they are, and
    /// each option's text hanging beside its name.
    public func helpText(width: Int) -> String {
        var lines = ["usage: \(name) [options]" + (isStage ? " [FILE...]" : ""), ""] + ToolInfo.wrap(summary, width: width) + [""]
        if !details.isEmpty { lines += ToolInfo.wrap(details, width: width) + [""] }
        lines.append("options:")
        let all = allOptions
        let column = min(all.map { $0.name.count + ($0.value.map { $0.count + 1 } ?? 0) }.max() ?? 0, width / 3) + 4
        for option in all {
            let left = "  " + option.name + (option.value.map { " " + $0 } ?? "")
            var right = option.help
            if let d = option.defaultValue { right += " (default: \(d))" }
            let text = ToolInfo.wrap(right, width: width - column)
            if left.count + 2 > column {
                lines.append(left)
                lines += text.map { String(repeating: " ", count: column) + $0 }
            } else {
                lines += text.enumerated().map { n, line in
                    (n == 0 ? left.padding(toLength: column, withPad: " ", startingAt: 0) : String(repeating: " ", count: column)) + line
                }
            }
        }
        if isStage {
            lines += [""] + ToolInfo.wrap("Input is read from the FILEs, or standard input when none is given. Exit status: the most severe of: "
                + "70 internal error, 74 I/O error, 69 unavailable, 66 no input, 65 bad data, 64 usage, 75 retry later (a timeout "
                + "or network failure); 0 when every record succeeded.", width: width)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The terminal's width when standard output is one, kept between 60 and 100 columns; 100 otherwise.
    static func helpWidth() -> Int {
        var size = winsize()
        guard isatty(STDOUT_FILENO) != 0, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 100 }
        return min(100, max(60, Int(size.ws_col)))
    }

    /// Text re-flowed into lines of at most `width` columns: paragraphs (lines joined up to a blank or indented
    /// line) are filled word by word; indented lines are kept as they are; a word longer than a line stands alone.
    public static func wrap(_ text: String, width: Int) -> [String] {
        var out = [String]()
        var paragraph = [Substring]()
        func flush() {
            var line = ""
            for word in paragraph {
                if line.isEmpty {
                    line = String(word)
                } else if line.count + 1 + word.count <= width {
                    line += " " + word
                } else {
                    out.append(line)
                    line = String(word)
                }
            }
            if !line.isEmpty { out.append(line) }
            paragraph = []
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if raw.trimmingCharacters(in: .whitespaces).isEmpty {
                flush()
                out.append("")
            } else if raw.first == " " {
                flush()
                out.append(String(raw))
            } else {
                paragraph += raw.split(separator: " ")
            }
        }
        flush()
        return out
    }

    public func versionText(_ options: ParsedOptions) -> String {
        ([("\(name) \(ToolInfo.version)")] + libraries(options).map { "  " + $0 }).joined(separator: "\n") + "\n"
    }
}

/// Parsed command-line options; bad values end the process with status 64.
public struct ParsedOptions: Sendable {
    public let tool: String
    public private(set) var values: [String: String] = [:]
    public private(set) var flags: Set<String> = []
    public private(set) var inputs: [String] = []

    public init(tool: ToolInfo, arguments: [String]) {
        self.tool = tool.name
        let specs = Dictionary(tool.allOptions.map { (String($0.name.split(separator: " ").last ?? ""), $0) }, uniquingKeysWith: { a, _ in a })
        var index = 0
        var onlyInputs = false
        while index < arguments.count {
            var argument = arguments[index]
            index += 1
            if !onlyInputs, let long = ToolInfo.shortOptions[argument] { argument = long }
            if onlyInputs || !argument.hasPrefix("--") || argument == "-" {
                if argument == "--" && !onlyInputs { onlyInputs = true; continue }
                inputs.append(argument)
                continue
            }
            var name = argument
            var inline: String?
            if let eq = argument.firstIndex(of: "=") {
                name = String(argument[..<eq])
                inline = String(argument[argument.index(after: eq)...])
            }
            guard let spec = specs[name] else { ParsedOptions.usage(tool.name, "unknown option '\(name)'") }
            if name == "--help" {
                try? FileHandle.standardOutput.write(contentsOf: Data(tool.helpText.utf8))
                exit(ExitCode.ok.rawValue)
            }
            if spec.value != nil {
                if let inline {
                    values[name] = inline
                } else if index < arguments.count {
                    values[name] = arguments[index]
                    index += 1
                } else {
                    ParsedOptions.usage(tool.name, "option '\(name)' needs a value")
                }
            } else {
                if inline != nil { ParsedOptions.usage(tool.name, "option '\(name)' takes no value") }
                flags.insert(name)
            }
        }
        if flags.contains("--quiet") && flags.contains("--verbose") { ParsedOptions.usage(tool.name, "--quiet and --verbose contradict each other") }
        Verbosity.current = flags.contains("--quiet") ? .quiet : flags.contains("--verbose") ? .verbose : .normal
        if flags.contains("--version") {
            try? FileHandle.standardOutput.write(contentsOf: Data(tool.versionText(self).utf8))
            exit(ExitCode.ok.rawValue)
        }
    }

    public static func usage(_ tool: String, _ message: String) -> Never {
        Diagnostics(tool: tool).error(message)
        try? FileHandle.standardError.write(contentsOf: Data("Try '\(tool) --help'.\n".utf8))
        exit(ExitCode.usage.rawValue)
    }

    public func flag(_ name: String) -> Bool { flags.contains(name) }

    public func string(_ name: String) -> String? { values[name] }

    public func int(_ name: String, default value: Int, min: Int, max: Int) -> Int {
        guard let raw = values[name] else { return value }
        guard let parsed = Int(raw), parsed >= min, parsed <= max else {
            ParsedOptions.usage(tool, "option '\(name)' needs a whole number from \(min) to \(max), not '\(raw)'")
        }
        return parsed
    }

    public func double(_ name: String, default value: Double, min: Double, max: Double) -> Double {
        guard let raw = values[name] else { return value }
        guard let parsed = Double(raw), parsed.isFinite, parsed >= min, parsed <= max else {
            ParsedOptions.usage(tool, "option '\(name)' needs a number from \(ParsedOptions.plain(min)) to \(ParsedOptions.plain(max)), not '\(raw)'")
        }
        return parsed
    }

    /// A bound as people write it: 600, not 600.0.
    public static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// A duration such as `90`, `90s`, `15m`, `12h` or `7d`, in seconds.
    public func duration(_ name: String, default value: Double) -> Double {
        guard let raw = values[name] else { return value }
        guard let seconds = ParsedOptions.parseDuration(raw) else {
            ParsedOptions.usage(tool, "option '\(name)' needs a duration like 90s, 15m, 12h or 7d, not '\(raw)'")
        }
        return seconds
    }

    public static func parseDuration(_ raw: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = raw
        var scale = 1.0
        if let last = raw.last, let unit = units[last] {
            number = String(raw.dropLast())
            scale = unit
        }
        guard let value = Double(number), value >= 0, value * scale <= 1e10 else { return nil }
        return value * scale
    }

    public func choice(_ name: String, default value: String, from allowed: [String]) -> String {
        guard let raw = values[name] else { return value }
        guard allowed.contains(raw) else {
            ParsedOptions.usage(tool, "option '\(name)' must be one of \(allowed.joined(separator: ", ")), not '\(raw)'")
        }
        return raw
    }
}
