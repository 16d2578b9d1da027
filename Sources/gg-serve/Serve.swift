import CMicroHTTPD
import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// gg-serve: the /process HTTP service over the pipeline's stages.
enum ServeTool {
    static let info = ToolInfo(
        name: "gg-serve",
        summary: "Serve POST /process over HTTP: each request runs the gg stages on its URLs.",
        details: """
        Each request runs gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble (argument vectors, never a
        shell) in a work folder of its own under --work-dir, and answers with one result per URL in request
        order. gg-serve itself does no media work. Endpoints: POST /process, POST /process/batch, GET
        /cache/stats, POST /cache/clear, GET /health, GET /ready, GET /metrics, GET /openapi.json.
        ?format=gilgamesh (or "format": "gilgamesh") answers in the old Gilgamesh service's shape;
        Accept: application/x-ndjson streams one result line per URL as soon as it and those before it are done.
        Only http(s) URLs are accepted, and private, loopback and metadata addresses are refused unless
        --allow-private or --allow-host lets them through. SIGTERM stops accepting, lets requests finish for
        --grace seconds, then kills their pipelines and exits 0.

        Examples:
          gg-serve --listen 0.0.0.0:8500 --max-concurrent 4 --work-dir /var/lib/gg/work
          curl -s localhost:8500/process -d '{"urls": ["https://www.instagram.com/p/SHORTCODE/"]}'
        """,
        options: [
            OptionSpec("--listen", value: "ADDR", default: "$GG_LISTEN or 127.0.0.1:8500", "address and port to listen on ([v6]:port too; port 0 picks one)"),
            OptionSpec("--bin", value: "DIR", default: "the folder gg-serve is in", "folder holding the gg-* stage executables"),
            OptionSpec("--work-dir", value: "DIR", default: "$GG_WORK_DIR or $TMPDIR/gg-serve", "work root; each request gets a folder under it"),
            OptionSpec("--cache-dir", value: "DIR", default: "$GG_CACHE_DIR or gg-fetch's default", "gg-fetch URL cache"),
            OptionSpec("--max-concurrent", value: "N", default: "$MAX_CONCURRENT_REQUESTS or 4", "requests whose pipelines run at once"),
            OptionSpec("--queue", value: "N", default: "$GG_QUEUE or 16", "requests that may wait for a slot; more get 429"),
            OptionSpec("--queue-timeout", value: "S", default: "30", "longest wait for a slot before 429"),
            OptionSpec("--timeout", value: "S", default: "$REQUEST_TIMEOUT_SECONDS or 300", "seconds per URL in each stage; a URL over it is a 'timeout' result"),
            OptionSpec("--jobs", value: "N", default: "2", "records each stage processes at once"),
            OptionSpec("--max-body", value: "BYTES", default: "1048576", "largest request body; larger is 413"),
            OptionSpec("--max-urls", value: "N", default: "100", "most URLs in one request"),
            OptionSpec("--grace", value: "S", default: "30", "on SIGTERM, how long requests in flight may finish"),
            OptionSpec("--token-file", value: "FILE", default: "$GG_API_TOKEN", "bearer token required on every endpoint but /health and /ready"),
            OptionSpec("--allow-private", "let URLs reach private, loopback and link-local addresses (off: gg-fetch --deny-private)"),
            OptionSpec("--allow-host", value: "HOSTS", "comma-separated hosts or addresses let through although private"),
            OptionSpec("--max-connections", value: "N", default: "64", "open connections at once"),
            OptionSpec("--idle-timeout", value: "S", default: "30", "seconds a connection may stay idle (slow clients lose it)"),
            OptionSpec("--log", value: "FORMAT", default: "text", "access log on stderr: text or json"),
        ],
        isStage: false,
        libraries: { _ in ["libmicrohttpd \(String(cString: MHD_get_version()))"] })

    static func main() -> Never {
        signal(SIGPIPE, SIG_IGN)
        let options = ParsedOptions(tool: info, arguments: Array(CommandLine.arguments.dropFirst()))
        if let stray = options.inputs.first { ParsedOptions.usage(info.name, "unexpected argument '\(stray)'") }
        let env = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        func value(_ option: String, _ variable: String?) -> String? { options.string(option) ?? variable.flatMap { env[$0] } }
        func number(_ option: String, _ variable: String?, _ fallback: Double, _ range: ClosedRange<Double>) -> Double {
            guard let raw = value(option, variable) else { return fallback }
            guard let parsed = Double(raw), range.contains(parsed) else {
                ParsedOptions.usage(info.name, "option '\(option)' needs a number from \(ParsedOptions.plain(range.lowerBound)) to \(ParsedOptions.plain(range.upperBound)), not '\(raw)'")
            }
            return parsed
        }
        let listen = value("--listen", "GG_LISTEN") ?? "127.0.0.1:8500"
        guard let address = socketAddress(listen) else { ParsedOptions.usage(info.name, "option '--listen' needs HOST:PORT, not '\(listen)'") }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let bin = options.string("--bin") ?? URL(fileURLWithPath: executable).deletingLastPathComponent().path
        for stage in PipelineRun.stages where access("\(bin)/gg-\(stage)", X_OK) != 0 {
            ParsedOptions.usage(info.name, "no executable gg-\(stage) in \(bin); pass --bin DIR")
        }
        var token: String?
        if let file = options.string("--token-file") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { ParsedOptions.usage(info.name, "cannot read --token-file \(file)") }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            token = env["GG_API_TOKEN"]
        }
        let workRoot = URL(fileURLWithPath: value("--work-dir", "GG_WORK_DIR") ?? NSTemporaryDirectory() + "/gg-serve").standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: workRoot, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            Diagnostics(tool: info.name).error("cannot create the work root \(workRoot.path): \(error.localizedDescription)")
            exit(ExitCode.ioError.rawValue)
        }
        let settings = PipelineSettings(
            bin: bin, workRoot: workRoot, cacheDir: value("--cache-dir", "GG_CACHE_DIR").map { URL(fileURLWithPath: $0) },
            timeout: number("--timeout", "REQUEST_TIMEOUT_SECONDS", 300, 0...604_800),
            jobs: Int(number("--jobs", nil, 2, 1...64)),
            denyPrivate: !options.flag("--allow-private"), allowHosts: options.string("--allow-host"))
        let server = Server(
            settings: settings,
            admission: Admission(limit: Int(number("--max-concurrent", "MAX_CONCURRENT_REQUESTS", 4, 1...256)),
                                 queue: Int(number("--queue", "GG_QUEUE", 16, 0...10_000)),
                                 wait: number("--queue-timeout", nil, 30, 0...3600)),
            maxBody: Int(number("--max-body", nil, 1_048_576, 2...1_073_741_824)),
            maxURLs: Int(number("--max-urls", nil, 100, 1...10_000)),
            token: token, jsonLog: options.choice("--log", default: "text", from: ["text", "json"]) == "json")
        let context = Unmanaged.passRetained(server).toOpaque()
        let daemon: HTTPDaemon
        do {
            daemon = try HTTPDaemon(address: address, handler: accessHandler, completed: completedHandler, context: context,
                                    connectionLimit: UInt32(number("--max-connections", nil, 64, 1...10_000)),
                                    idleSeconds: UInt32(number("--idle-timeout", nil, 30, 1...86_400)), headerBytes: 64 << 10)
        } catch {
            Diagnostics(tool: info.name).error("cannot listen on \(listen): \(String(cString: strerror(errno)))")
            exit(ExitCode.unavailable.rawValue)
        }
        let host = listen.hasPrefix("[") ? String(listen[..<(listen.firstIndex(of: "]").map { listen.index(after: $0) } ?? listen.endIndex)])
            : String(listen[..<(listen.lastIndex(of: ":") ?? listen.endIndex)])
        Diagnostics(tool: info.name).note("listening on \(host.isEmpty ? "0.0.0.0" : host):\(daemon.port), stages from \(bin), work root \(workRoot.path)")
        let grace = number("--grace", nil, 30, 0...86_400)
        let stopping = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopping.signal() }
            source.resume()
            sources.append(source)
        }
        stopping.wait()
        daemon.quiesce()
        server.drain(grace: grace)
        withExtendedLifetime((daemon, sources)) {}
        exit(0)
    }
}

private let accessHandler: MHD_AccessHandlerCallback = { context, connection, url, method, _, upload, uploadSize, state in
    let server = Unmanaged<Server>.fromOpaque(context!).takeUnretainedValue()
    return server.handle(connection: connection!, path: String(cString: url!), method: String(cString: method!),
                         upload: upload, uploadSize: uploadSize!, state: state!)
}

private let completedHandler: MHD_RequestCompletedCallback = { _, _, state, _ in
    guard let state, let exchange = state.pointee else { return }
    Unmanaged<Exchange>.fromOpaque(exchange).release()
    state.pointee = nil
}
