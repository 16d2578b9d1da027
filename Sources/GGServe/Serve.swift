import CMicroHTTPD
import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// gg-serve: the /process HTTP service over the pipeline's stages.
public enum ServeTool {
    static let info = ToolInfo(
        name: "gg-serve",
        summary: "Serve POST /process over HTTP: each request runs the gg stages on its URLs.",
        details: """
        Each request runs gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble (argument vectors, never a
        shell) in a work folder of its own under --work-dir, and answers with one result per URL in request
        order. gg-serve itself does no media work. Endpoints: POST /process, POST /process/batch, GET
        /cache/stats, POST /cache/clear, POST /cleanup, GET /health, GET /ready, GET /metrics, GET
        /openapi.json, GET /docs. --format gilgamesh (GG_FORMAT) answers clients that do not ask in the old
        Gilgamesh service's shapes, defaults and errors; ?format=gilgamesh or gg (or "format") per request;
        a URL processed before with the same options is answered from the result cache;
        Accept: application/x-ndjson streams one result line per URL as soon as it and those before it are done.
        Only single absolute http(s) URLs are accepted (no white space or control characters), and private,
        loopback and metadata addresses are refused unless --allow-private or --allow-host lets them through.
        Listening beyond loopback needs a bearer token; it is checked on the request head, before any body is
        read. Each client address may hold --max-connections-per-ip connections, and each request must arrive
        whole within --request-deadline. Answers stream as results arrive, in every format. Stage diagnostics
        go to the log with the request's id. The work root must be the user's own, not writable by others;
        request folders are 0700 and their files 0600. SIGTERM stops accepting, lets requests finish for
        --grace seconds, then kills their pipelines and exits 0.

        Examples:
          gg-serve --listen 0.0.0.0:8500 --token-file /run/secrets/gg-token --work-dir /var/lib/gg/work
          curl -s localhost:8500/process -d '{"urls": ["https://www.instagram.com/p/SHORTCODE/"]}'
        """,
        options: [
            OptionSpec("--listen", value: "ADDR", default: "$GG_LISTEN or 127.0.0.1:8500", "address and port to listen on ([v6]:port too; port 0 picks one)"),
            OptionSpec("--bin", value: "DIR", default: "the folder gg-serve is in", "folder holding the gg-* stage executables"),
            OptionSpec("--work-dir", value: "DIR", default: "$GG_WORK_DIR or $TMPDIR/gg-serve-UID", "work root (created 0700; refused when another user owns it or others may write to it); a folder per request"),
            OptionSpec("--cache-dir", value: "DIR", default: "$GG_CACHE_DIR; none: nothing is cached", "gg-fetch URL cache"),
            OptionSpec("--cache-ttl", value: "S", default: "604800 (7 days)", "seconds a cached download stays fresh"),
            OptionSpec("--result-ttl", value: "S", default: "$CACHE_TTL_HOURS hours or 86400", "seconds a cached result stays fresh (a repeated URL then costs a file read); 0: no result cache"),
            OptionSpec("--cache-max-bytes", value: "BYTES", default: "$GG_CACHE_MAX_BYTES or 21474836480 (20 GiB)", "most bytes of media the cache keeps (least recently used evicted)"),
            OptionSpec("--cache-prune-interval", value: "S", default: "600", "how often expired and least recently used entries are removed and the cache measured for /metrics"),
            OptionSpec("--max-concurrent", value: "N", default: "$MAX_CONCURRENT_REQUESTS or 4", "requests whose pipelines run at once"),
            OptionSpec("--queue", value: "N", default: "$GG_QUEUE or 16", "requests that may wait for a slot; more get 429"),
            OptionSpec("--queue-timeout", value: "S", default: "$REQUEST_TIMEOUT_SECONDS or 30", "longest wait for a slot before 429 (the old service's REQUEST_TIMEOUT_SECONDS)"),
            OptionSpec("--timeout", value: "S", default: "$GG_URL_TIMEOUT_SECONDS or 300", "seconds per URL in each stage; a URL over it is a 'timeout' result"),
            OptionSpec("--jobs", value: "N", default: "2", "records each stage processes at once"),
            OptionSpec("--max-body", value: "BYTES", default: "1048576", "largest request body; larger is 413"),
            OptionSpec("--max-urls", value: "N", default: "100", "most URLs in one request"),
            OptionSpec("--max-response-bytes", value: "BYTES", default: "1073741824", "most bytes of results in one answer; later results become output_too_large errors"),
            OptionSpec("--grace", value: "S", default: "30", "on SIGTERM, how long requests in flight may finish"),
            OptionSpec("--token-file", value: "FILE", default: "$GG_API_TOKEN", "bearer token required on every endpoint but /health and /ready (never empty)"),
            OptionSpec("--insecure-no-token", "listen beyond loopback without a token (refused otherwise)"),
            OptionSpec("--allow-private", "let URLs reach private, loopback and link-local addresses (off: gg-fetch --deny-private)"),
            OptionSpec("--allow-host", value: "HOSTS", "comma-separated HOST, HOST:PORT or HOST:* let through although private (a bare HOST: ports 80 and 443)"),
            OptionSpec("--threads", value: "N", default: "2", "threads serving HTTP (an epoll pool; waiting connections hold none)"),
            OptionSpec("--max-connections", value: "N", default: "64", "open connections at once"),
            OptionSpec("--max-connections-per-ip", value: "N", default: "8", "open connections at once from one client address"),
            OptionSpec("--request-deadline", value: "S", default: "20", "seconds to send a whole request, head and body (trickling does not extend it)"),
            OptionSpec("--idle-timeout", value: "S", default: "30", "seconds a connection may stay idle (slow clients lose it)"),
            OptionSpec("--log", value: "FORMAT", default: "text", "access log on stderr: text or json"),
            OptionSpec("--format", value: "SHAPE", default: "$GG_FORMAT or gg", "answer shape for requests that do not ask: gg, or gilgamesh (the old service's, for its clients)"),
            OptionSpec("--gilgamesh-api", value: "N", default: "$GG_GILGAMESH_API or 2", "the old API version whose /cache/stats shape gilgamesh answers use: 1 (unwrapped) or 2 ({status, stats})"),
            OptionSpec("--cors-origin", value: "ORIGINS", default: "$GG_CORS_ORIGINS; * with --format gilgamesh, else none", "comma-separated origins browsers may read answers from, or *"),
            OptionSpec("--keep-ttl", value: "S", default: "3600", "how long folders of requests with cleanup_temp false are kept (POST /cleanup removes them at once)"),
        ],
        isStage: false,
        libraries: { _ in ["libmicrohttpd \(String(cString: MHD_get_version()))"] })

    public static func main() -> Never {
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
            if token!.isEmpty { ParsedOptions.usage(info.name, "--token-file \(file) is empty; a token is never empty") }
        } else if let raw = ProcessInfo.processInfo.environment["GG_API_TOKEN"] {
            token = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if token!.isEmpty { ParsedOptions.usage(info.name, "GG_API_TOKEN is set but empty; a token is never empty (unset it to run without one)") }
        }
        if token?.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true }) == true {
            ParsedOptions.usage(info.name, "the token may not hold white space or control characters")
        }
        if token == nil && !isLoopback(address) && !options.flag("--insecure-no-token") {
            ParsedOptions.usage(info.name, "listening on \(listen) beyond loopback needs a token (--token-file FILE or GG_API_TOKEN); --insecure-no-token opts out")
        }
        umask(0o077)
        let workRoot = URL(fileURLWithPath: value("--work-dir", "GG_WORK_DIR") ?? NSTemporaryDirectory() + "/gg-serve-\(getuid())").standardizedFileURL
        if let problem = PrivateFolder.prepare(workRoot.path) {
            Diagnostics(tool: info.name).error("work root \(workRoot.path): \(problem)")
            exit(ExitCode.ioError.rawValue)
        }
        let settings = PipelineSettings(
            bin: bin, workRoot: workRoot, cacheDir: value("--cache-dir", "GG_CACHE_DIR").map { URL(fileURLWithPath: $0) },
            timeout: number("--timeout", "GG_URL_TIMEOUT_SECONDS", 300, 0...604_800),
            jobs: Int(number("--jobs", nil, 2, 1...64)),
            denyPrivate: !options.flag("--allow-private"), allowHosts: options.string("--allow-host"),
            maxResponseBytes: Int(number("--max-response-bytes", nil, 1_073_741_824, 4096...1_099_511_627_776)),
            cacheTTL: number("--cache-ttl", nil, 604_800, 1...315_360_000),
            cacheMaxBytes: Int(number("--cache-max-bytes", "GG_CACHE_MAX_BYTES", 21_474_836_480, 1_048_576...1e15)),
            resultTTL: options.string("--result-ttl") != nil || env["CACHE_TTL_HOURS"] == nil ? number("--result-ttl", nil, 86400, 0...315_360_000)
                : number("--result-ttl", "CACHE_TTL_HOURS", 24, 0...87_600) * 3600)
        let server = Server(
            settings: settings,
            admission: Admission(limit: Int(number("--max-concurrent", "MAX_CONCURRENT_REQUESTS", 4, 1...256)),
                                 queue: Int(number("--queue", "GG_QUEUE", 16, 0...10_000)),
                                 wait: number("--queue-timeout", "REQUEST_TIMEOUT_SECONDS", 30, 0...3600)),
            maxBody: Int(number("--max-body", nil, 1_048_576, 2...1_073_741_824)),
            maxURLs: Int(number("--max-urls", nil, 100, 1...10_000)),
            token: token, jsonLog: options.choice("--log", default: "text", from: ["text", "json"]) == "json",
            requestDeadline: number("--request-deadline", nil, 20, 1...3600))
        let format = options.string("--format") ?? env["GG_FORMAT"] ?? "gg"
        guard ["gg", "gilgamesh"].contains(format) else { ParsedOptions.usage(info.name, "option '--format' needs gg or gilgamesh, not '\(format)'") }
        let origins = (options.string("--cors-origin") ?? env["GG_CORS_ORIGINS"] ?? (format == "gilgamesh" ? "*" : ""))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        server.compatibility = Compatibility(format: format, apiVersion: Int(number("--gilgamesh-api", "GG_GILGAMESH_API", 2, 1...2)), corsOrigins: origins)
        server.startSweeper(keepTTL: number("--keep-ttl", nil, 3600, 1...31_536_000))
        if settings.cacheDir != nil {
            CacheKeeper(settings: settings, interval: number("--cache-prune-interval", nil, 600, 1...86_400), metrics: server.metrics,
                        log: { server.stageLog($0, request: "cache") }).start()
        }
        let context = Unmanaged.passRetained(server).toOpaque()
        let daemon: HTTPDaemon
        do {
            let connections = number("--max-connections", nil, 64, 1...10_000)
            daemon = try HTTPDaemon(address: address, handler: accessHandler, completed: completedHandler, connected: connectionHandler, context: context,
                                    threads: UInt32(number("--threads", nil, 2, 1...64)), connectionLimit: UInt32(connections),
                                    perAddressLimit: UInt32(min(connections, number("--max-connections-per-ip", nil, 8, 1...10_000))),
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

private let completedHandler: MHD_RequestCompletedCallback = { context, connection, state, _ in
    if let connection { Unmanaged<Server>.fromOpaque(context!).takeUnretainedValue().deadlines.answered(connection) }
    guard let state, let exchange = state.pointee else { return }
    Unmanaged<Exchange>.fromOpaque(exchange).release()
    state.pointee = nil
}

private let connectionHandler: MHD_NotifyConnectionCallback = { context, connection, _, event in
    guard let connection else { return }
    let deadlines = Unmanaged<Server>.fromOpaque(context!).takeUnretainedValue().deadlines
    if gg_mhd_connection_started(event) != 0 {
        deadlines.opened(connection, socket: gg_mhd_connection_fd(connection))
    } else {
        deadlines.closed(connection)
    }
}
