import CMicroHTTPD
import Foundation
import GGShared
#if canImport(Glibc)
import Glibc
#endif

/// The /process request body, checked.
struct ProcessBody {
    var request: PipelineRequest
    var single: Bool
    var batch: Bool
    var gilgamesh: Bool
}

/// Routes requests, runs their pipelines under the admission limits, and keeps the metrics.
final class Server: @unchecked Sendable {
    let settings: PipelineSettings
    let admission: Admission
    let maxBody: Int
    let maxURLs: Int
    let token: String?
    let jsonLog: Bool
    /// What old clients get without asking: the answer shape and the old API version (/cache/stats' shape).
    var compatibility = Compatibility()
    let metrics = Metrics()
    let deadlines: RequestDeadlines
    let readiness = CachedReply(seconds: 10)
    /// Answers worked out off libmicrohttpd's threads (/ready when stale, the cache endpoints) at once.
    let slowWork = DispatchSemaphore(value: 4)
    private let lock = NSLock()
    private var runs: [ObjectIdentifier: PipelineRun] = [:]

    init(settings: PipelineSettings, admission: Admission, maxBody: Int, maxURLs: Int, token: String?, jsonLog: Bool, requestDeadline: Double) {
        deadlines = RequestDeadlines(seconds: requestDeadline)
        self.settings = settings
        self.admission = admission
        self.maxBody = maxBody
        self.maxURLs = maxURLs
        self.token = token
        self.jsonLog = jsonLog
    }

    // MARK: libmicrohttpd entry

    func handle(connection: OpaquePointer, path: String, method: String, upload: UnsafePointer<CChar>?,
                uploadSize: UnsafeMutablePointer<Int>, state: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        guard let existing = state.pointee else {
            let exchange = Exchange(method: method == "HEAD" ? "GET" : method, path: path)
            state.pointee = Unmanaged.passRetained(exchange).toOpaque()
            if let refusal = refuseHead(exchange, connection) { return finish(exchange, connection, refusal) }
            return gg_mhd_yes()
        }
        let exchange = Unmanaged<Exchange>.fromOpaque(existing).takeUnretainedValue()
        if uploadSize.pointee > 0 {
            if exchange.body.count + uploadSize.pointee > maxBody {
                exchange.bodyTooLarge = true
            } else if let upload {
                exchange.body.append(UnsafeRawPointer(upload).assumingMemoryBound(to: UInt8.self), count: uploadSize.pointee)
            }
            uploadSize.pointee = 0
            return gg_mhd_yes()
        }
        deadlines.received(connection)
        if let reply = exchange.deferred {
            exchange.deferred = nil
            exchange.stream = nil
            return finish(exchange, connection, reply)
        }
        if exchange.working { return gg_mhd_yes() }
        if let stream = exchange.stream {
            exchange.stream = nil
            return stream.send(contentType: "application/json")
        }
        if let body = exchange.process { return admitted(exchange, connection, body) }
        return respond(exchange, connection)
    }

    /// Works `answer` out on a background thread while the connection is suspended, then queues it: the
    /// handler is called again on resume. At most `slowWork` such answers are worked out at once; past
    /// that the client is asked to retry.
    func answerLater(_ exchange: Exchange, _ connection: OpaquePointer, _ answer: @escaping @Sendable () -> Reply) -> MHD_Result {
        guard slowWork.wait(timeout: .now()) == .success else {
            var reply = Reply.error(503, "the server is busy with other slow requests; try again shortly")
            reply.headers.append(("Retry-After", "1"))
            return finish(exchange, connection, reply)
        }
        exchange.working = true
        MHD_suspend_connection(connection)
        let resumable = Resumable(connection)
        DispatchQueue.global().async { [slowWork] in
            let reply = answer()
            exchange.deferred = reply
            exchange.working = false
            slowWork.signal()
            resumable.resume()
        }
        return gg_mhd_yes()
    }

    static let routes: [String: Set<String>] = [
        "/health": ["GET"], "/ready": ["GET"], "/metrics": ["GET"], "/openapi.json": ["GET"], "/cache/stats": ["GET"],
        "/cache/clear": ["POST"], "/process": ["POST"], "/process/batch": ["POST"], "/cleanup": ["POST"], "/docs": ["GET"],
        "/artefacts": ["GET"],
    ]

    /// The route a path belongs to: itself, or /artefacts for a kept file under it.
    static func label(_ path: String) -> String { path.hasPrefix("/artefacts/") ? "/artefacts" : path }

    /// What the request head alone already decides, before any of the body is read: ambiguous framing,
    /// a missing or wrong token, an unknown endpoint or method.
    func refuseHead(_ exchange: Exchange, _ connection: OpaquePointer) -> Reply? {
        let lengths = gg_mhd_header_count(connection, "Content-Length")
        if lengths > 1 || (lengths == 1 && gg_mhd_header_count(connection, "Transfer-Encoding") > 0) {
            return .error(400, "ambiguous request framing: more than one Content-Length, or Content-Length with Transfer-Encoding")
        }
        guard let methods = Server.routes[Server.label(exchange.path)] else { return .error(404, "no such endpoint: \(Server.printable(exchange.path))") }
        if exchange.method == "OPTIONS" { return compatibility.preflight(origin: requestHeader(connection, "Origin"), methods: methods) }
        guard methods.contains(exchange.method) else { return .error(405, "\(Server.printable(exchange.method)) is not allowed on \(exchange.path)") }
        if let token, !["/health", "/ready", "/docs"].contains(exchange.path),
           !Server.authorized(requestHeader(connection, "Authorization"), token: token) {
            var reply = Reply.error(401, "a bearer token is required: Authorization: Bearer <token>")
            reply.headers.append(("WWW-Authenticate", "Bearer"))
            return reply
        }
        return nil
    }

    /// Whether an Authorization header carries `token` in the Bearer scheme (the scheme's case does not matter).
    static func authorized(_ header: String?, token: String) -> Bool {
        guard let header, let space = header.firstIndex(of: " ") else { return false }
        let scheme = header[..<space].lowercased()
        let given = header[header.index(after: space)...].trimmingCharacters(in: .whitespaces)
        return sameSecret(scheme == "bearer" ? given : "", token) && scheme == "bearer"
    }

    private func respond(_ exchange: Exchange, _ connection: OpaquePointer) -> MHD_Result {
        let endpoint = "\(exchange.method) \(exchange.path)"
        if exchange.bodyTooLarge { return finish(exchange, connection, .error(413, "the request body is larger than --max-body \(maxBody) bytes")) }
        if exchange.path.hasPrefix("/artefacts/") { return artefact(exchange, connection) }
        switch endpoint {
        case "GET /health":
            return finish(exchange, connection, .json(200, ["status": "healthy", "service": "gilgamesh"]))
        case "GET /ready":
            if let fresh = readiness.fresh { return finish(exchange, connection, fresh) }
            return answerLater(exchange, connection) { self.readiness.reply { self.ready() } }
        case "GET /metrics":
            let counts = admission.counts
            return finish(exchange, connection, Reply(status: 200, body: Data(metrics.text(inFlight: counts.running, queued: counts.waiting,
                                                                                           deadlinesMissed: deadlines.expired).utf8),
                                                      contentType: "text/plain; version=0.0.4"))
        case "GET /docs":
            return finish(exchange, connection, Reply(status: 200, body: Data(DocsPage.html.utf8), contentType: "text/html; charset=utf-8"))
        case "GET /openapi.json":
            return finish(exchange, connection, Reply(status: 200, body: Data(OpenAPI.document.utf8)))
        case "GET /cache/stats":
            let gilgamesh = format(connection) == "gilgamesh"
            return answerLater(exchange, connection) { self.cacheStats(gilgamesh: gilgamesh) }
        case "POST /cleanup":
            let query = queryArgument(connection, "clear_cache")?.lowercased()
            let body = (try? JSONSerialization.jsonObject(with: exchange.body)) as? [String: Any] ?? [:]
            let clearCache = ["true", "1", "yes"].contains(query ?? "") || [body["clear_cache"], body["clear_cache_data"]].contains { $0.flatMap(JSONValue.bool) == true }
            return answerLater(exchange, connection) { self.cleanup(clearCache: clearCache) }
        case "POST /cache/clear":
            let hours = queryArgument(connection, "older_than_hours")
            return answerLater(exchange, connection) { self.cacheClear(olderThanHours: hours) }
        default:
            return process(exchange, connection, batch: exchange.path == "/process/batch")
        }
    }

    /// Sends `reply`, counts it and writes the access-log line.
    func finish(_ exchange: Exchange, _ connection: OpaquePointer, _ reply: Reply) -> MHD_Result {
        var reply = reply
        reply.headers += corsHeaders(connection)
        account(exchange, status: reply.status)
        return HTTPDaemon.send(reply, on: connection)
    }

    /// Counts an answer about to be sent and writes its access-log line.
    func account(_ exchange: Exchange, status: Int32) {
        exchange.status = status
        metrics.request(Server.routes[Server.label(exchange.path)] == nil ? "other" : Server.label(exchange.path), status)
        log(exchange)
    }

    /// The CORS headers the request's origin gets.
    func corsHeaders(_ connection: OpaquePointer) -> [(String, String)] {
        compatibility.corsHeaders(origin: requestHeader(connection, "Origin"))
    }

    func log(_ exchange: Exchange) {
        let seconds = Date().timeIntervalSince(exchange.started)
        let line: String
        if jsonLog {
            let object: [String: Any] = ["method": exchange.method, "path": exchange.path, "status": Int(exchange.status), "urls": exchange.urlCount,
                                         "seconds": (seconds * 1000).rounded() / 1000]
            line = String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
        } else {
            line = "gg-serve: \(Server.printable(exchange.method)) \(Server.printable(exchange.path)) \(exchange.status) urls=\(exchange.urlCount) \(String(format: "%.3f", seconds))s"
        }
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Why `url` is not one absolute http(s) URL, or nil: control characters and white space (a newline would
    /// make two URLs of one) and anything but http and https with a host are refused.
    static func urlProblem(_ url: String) -> String? {
        if url.unicodeScalars.contains(where: { $0.value <= 0x20 || (0x7f...0x9f).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            return "a URL may not hold spaces or control characters: \(printable(Secrets.redact(url)))"
        }
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased() else {
            return "not a URL: \(printable(Secrets.redact(url))) (local paths are not accepted)"
        }
        guard scheme == "http" || scheme == "https", !(parts.host ?? "").isEmpty else {
            return "only http and https URLs are accepted, not \(printable(scheme)):"
        }
        return nil
    }

    /// `text` with every byte outside printable ASCII, and the space, quote and backslash, as %XX: safe in
    /// a log line or a message, whatever a client sent.
    static func printable(_ text: String, limit: Int = 256) -> String {
        var out = ""
        for byte in text.utf8.prefix(limit) {
            if byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "%") {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return text.utf8.count > limit ? out + "..." : out
    }

    static func sameSecret(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = x.count ^ y.count
        for index in 0..<max(x.count, y.count) { difference |= Int((index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)) }
        return difference == 0
    }

    // MARK: /process

    /// The answer format a request asked for (`?format=` or the body's `format`), else the server's default.
    func format(_ connection: OpaquePointer, body: [String: Any]? = nil) -> String {
        (body?["format"] as? String) ?? queryArgument(connection, "format") ?? compatibility.format
    }

    /// A refused request in the format's shape: gg's `{status, detail, field}`, or FastAPI's 422 with a
    /// list of `{loc, msg, type}` for the old service's validation errors.
    static func invalid(_ status: Int32, _ message: String, field: String?, gilgamesh: Bool, type: String = "value_error") -> Reply {
        guard gilgamesh, status == 422 || status == 400 else { return .error(status, message, field: field) }
        let location: [Any] = ["body"] + (field.map { [$0.hasPrefix("urls[") ? "urls" : $0] } ?? [])
        return .json(422, ["detail": [["loc": location, "msg": message, "type": type]]])
    }

    func parse(_ exchange: Exchange, _ connection: OpaquePointer, batch: Bool) -> Swift.Result<ProcessBody, Reply> {
        guard let object = try? JSONSerialization.jsonObject(with: exchange.body) as? [String: Any] else {
            return .failure(Server.invalid(400, "the body must be a JSON object", field: nil, gilgamesh: format(connection) == "gilgamesh",
                                           type: "value_error.jsondecode"))
        }
        let format = self.format(connection, body: object)
        guard ["gg", "gilgamesh"].contains(format) else { return .failure(.error(422, "format must be gg or gilgamesh", field: "format")) }
        let gilgamesh = format == "gilgamesh"
        var urls: [String]
        var single = false
        if let list = object["urls"] {
            guard let strings = list as? [Any], strings.allSatisfy({ $0 is String }) else {
                return .failure(Server.invalid(422, "urls must be a list of URL strings", field: "urls", gilgamesh: gilgamesh))
            }
            urls = strings as! [String]
        } else if let one = object["url"], !batch {
            guard let text = one as? String else { return .failure(Server.invalid(422, "url must be a string", field: "url", gilgamesh: gilgamesh)) }
            urls = [text]
            single = true
        } else {
            return .failure(gilgamesh ? Server.invalid(422, "field required", field: batch ? "urls" : "url", gilgamesh: true, type: "value_error.missing")
                : .error(400, "the body needs urls: [...]", field: "urls"))
        }
        if urls.isEmpty {
            return .failure(gilgamesh ? .json(400, ["detail": ["status": "error", "error": "No URLs provided"]])
                : .error(400, "No URLs provided", field: "urls"))
        }
        guard urls.count <= maxURLs else { return .failure(.error(413, "more than --max-urls \(maxURLs) URLs", field: "urls")) }
        for (index, url) in urls.enumerated() {
            if let problem = Server.urlProblem(url) {
                return .failure(Server.invalid(422, problem, field: single ? "url" : "urls[\(index)]", gilgamesh: gilgamesh))
            }
        }
        var request = PipelineRequest(urls: urls)
        request.base64 = gilgamesh
        for (key, target) in [("encode_base64", \PipelineRequest.base64), ("cleanup_temp", \PipelineRequest.cleanup)] {
            guard let value = object[key], !(value is NSNull) else { continue }
            guard let flag = JSONValue.bool(value) else {
                return .failure(Server.invalid(422, "\(key) must be true or false", field: key, gilgamesh: gilgamesh))
            }
            request[keyPath: target] = flag
        }
        if let value = object["threshold"], !(value is NSNull) {
            guard let number = JSONValue.number(value), (0...1).contains(number) else {
                return .failure(Server.invalid(422, "threshold must be a number from 0 to 1 (ffmpeg's scene score scale)", field: "threshold", gilgamesh: gilgamesh))
            }
            request.threshold = number
        }
        if let value = object["engine"], !(value is NSNull) {
            guard let name = value as? String, ["auto", "whisper", "sphinx"].contains(name) else {
                return .failure(Server.invalid(422, "engine must be auto, whisper or sphinx", field: "engine", gilgamesh: gilgamesh))
            }
            request.engine = name
        }
        if let value = object["language"], !(value is NSNull) {
            guard let code = value as? String, code == "auto" || (2...3).contains(code.utf8.count) && code.utf8.allSatisfy({ (97...122).contains($0) }) else {
                return .failure(Server.invalid(422, "language must be a language code such as en, or auto", field: "language", gilgamesh: gilgamesh))
            }
            request.language = code
        }
        request.clips = request.base64 && gilgamesh
        request.shape = gilgamesh ? (batch ? "gilgamesh-batch" : "gilgamesh") : "gg"
        return .success(ProcessBody(request: request, single: single, batch: batch, gilgamesh: gilgamesh))
    }

    func process(_ exchange: Exchange, _ connection: OpaquePointer, batch: Bool) -> MHD_Result {
        let body: ProcessBody
        switch parse(exchange, connection, batch: batch) {
        case .failure(let reply): return finish(exchange, connection, reply)
        case .success(let parsed): body = parsed
        }
        exchange.urlCount = body.request.urls.count
        if let hits = cachedResults(body) { return answerFromCache(exchange, connection, body, hits) }
        let resumable = Resumable(connection)
        let entry = admission.enter(whileLocked: {
            exchange.process = body
            MHD_suspend_connection(connection)
        }, ready: { admitted in
            exchange.admitted = admitted
            resumable.resume()
        })
        switch entry {
        case .now:
            exchange.admitted = true
            return admitted(exchange, connection, body)
        case .queued:
            return gg_mhd_yes()
        case .full:
            exchange.admitted = false
            return admitted(exchange, connection, body)
        }
    }

    /// Every URL's result from the result cache, in gg's shape and marked as hits, when all of them are
    /// there and together small (`cachedAnswerBytes`): such a request costs file reads, no pipeline and no slot. Nil otherwise (the pipeline then
    /// looks them up itself, URL by URL).
    func cachedResults(_ body: ProcessBody) -> [String]? {
        guard !body.gilgamesh, body.request.cleanup, let folder = settings.resultCache else { return nil }
        let cache = ResultCache.open(folder, ttl: settings.resultTTL, maxBytes: nil)
        let fingerprint = ResultCache.fingerprint(options: PipelineRun.resultOptionsText(body.request), environment: ChildEnvironment.filtered())
        var lines = [String]()
        var bytes = 0
        for url in body.request.urls {
            guard let hit = cache.lookup(ResultCache.key(url: url, fingerprint: fingerprint)), (bytes + hit.entry.bytes) <= Server.cachedAnswerBytes,
                  let data = FileManager.default.contents(atPath: hit.file.path),
                  var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
            object["result_cache"] = "hit"
            object["url"] = url
            guard let line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
            lines.append(String(decoding: line, as: UTF8.self))
            bytes += hit.entry.bytes
        }
        return lines
    }

    /// The largest answer served whole from the result cache; larger ones stream through the pipeline.
    static let cachedAnswerBytes = 8 << 20

    func answerFromCache(_ exchange: Exchange, _ connection: OpaquePointer, _ body: ProcessBody, _ lines: [String]) -> MHD_Result {
        lines.forEach { _ in
            metrics.result(status: "success", kind: nil)
            metrics.cache("result-hit")
        }
        if wantsResultLines(connection) {
            return finish(exchange, connection, Reply(status: 200, body: Data((lines.joined(separator: "\n") + "\n").utf8), contentType: "application/x-ndjson"))
        }
        let text = body.single ? "{\"status\":\"success\",\"result\":\(lines[0])}\n" : "{\"status\":\"success\",\"results\":[\(lines.joined(separator: ","))]}\n"
        return finish(exchange, connection, Reply(status: 200, body: Data(text.utf8)))
    }

    /// Starts the pipeline of a request admission let in, or answers 429 to one it turned away.
    func admitted(_ exchange: Exchange, _ connection: OpaquePointer, _ body: ProcessBody) -> MHD_Result {
        exchange.process = nil
        guard exchange.admitted == true else {
            var reply = Reply.error(429, "Too many concurrent requests (>\(admission.limit)). Please try again later.")
            reply.headers.append(("Retry-After", String(max(1, Int(admission.wait.rounded(.up))))))
            return finish(exchange, connection, reply)
        }
        let run: PipelineRun
        do {
            run = try PipelineRun(body.request, settings: settings, log: { [weak self] request, line in self?.stageLog(line, request: request) })
        } catch {
            admission.leave()
            return finish(exchange, connection, .error(503, "cannot start the pipeline: \((error as? GGError)?.message ?? "\(error)")"))
        }
        exchange.requestID = run.id
        track(run)
        do {
            try run.start()
        } catch {
            untrack(run)
            freeSlot(of: run)
            return finish(exchange, connection, .error(503, "cannot start the pipeline: \((error as? GGError)?.message ?? "\(error)")"))
        }
        let streaming = wantsResultLines(connection)
        let framer = ResponseFramer(streaming ? .lines : body.single ? .single : body.batch && body.gilgamesh ? .batch : .list)
        let deferHead = body.single && body.gilgamesh && !streaming
        let stream = ResultStream(server: self, run: run, exchange: exchange, body: body, framer: framer, connection: connection, deferHead: deferHead)
        if deferHead {
            exchange.stream = stream
            stream.startDeferred()
            return gg_mhd_yes()
        }
        return stream.send(contentType: streaming ? "application/x-ndjson" : "application/json")
    }

    /// Gives a run's admission slot back, once: when its last result is in the answer (before the client can
    /// read the answer's end and send its next request, which the old service let in), or when the run ends.
    func freeSlot(of run: PipelineRun) {
        if run.freeSlot() { admission.leave() }
    }

    /// The one end of a request's run, whatever happened: its stages stopped or reaped, metrics counted,
    /// its folder removed (unless the client asked to keep it and got its answer), its slot freed.
    func end(_ run: PipelineRun, _ exchange: Exchange, _ body: ProcessBody, summaries: [ResultSummary], answered: Bool, account: Bool = true) {
        if answered {
            for (stage, _, seconds) in run.finish() { metrics.stage(stage, seconds: seconds) }
            for summary in summaries {
                metrics.result(status: summary.status, kind: summary.kind)
                summary.cache.forEach(metrics.cache)
            }
        }
        run.end(removeFolder: !answered || body.request.cleanup)
        untrack(run)
        freeSlot(of: run)
        guard account else { return }
        exchange.status = answered ? 200 : 499
        metrics.request(exchange.path, exchange.status)
        log(exchange)
    }

    /// A stage's diagnostic line in the operator's log, with the request it belongs to.
    func stageLog(_ line: String, request: String) {
        let text: String
        if jsonLog {
            let object: [String: Any] = ["request": request, "stage_message": line]
            text = String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
        } else {
            let clean = String(String.UnicodeScalarView(line.unicodeScalars.map { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7f ? "?" : $0 }))
            text = "gg-serve: request \(request): \(clean)"
        }
        try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
    }

    func track(_ run: PipelineRun) {
        lock.lock()
        runs[ObjectIdentifier(run)] = run
        lock.unlock()
    }

    func untrack(_ run: PipelineRun) {
        lock.lock()
        runs[ObjectIdentifier(run)] = nil
        lock.unlock()
    }

    /// After SIGTERM: waits up to `grace` seconds for running requests, then kills what is left.
    func drain(grace: Double) {
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            lock.lock()
            let left = runs.count
            lock.unlock()
            if left == 0 && admission.counts.waiting == 0 { return }
            usleep(50_000)
        }
        lock.lock()
        let left = Array(runs.values)
        lock.unlock()
        for run in left { run.end(removeFolder: true) }
    }

    // MARK: other endpoints

    func ready() -> Reply {
        var checks: [String: Any] = [:]
        var ok = true
        for stage in PipelineRun.stages {
            let usable = access("\(settings.bin)/gg-\(stage)", X_OK) == 0
            checks["gg-\(stage)"] = usable
            ok = ok && usable
        }
        let tessdata = ProcessInfo.processInfo.environment["TESSDATA_PREFIX"] ?? "/usr/share/tesseract-ocr/5/tessdata"
        let ocr = FileManager.default.fileExists(atPath: "\(tessdata)/eng.traineddata")
        checks["tesseract_eng"] = ocr
        ok = ok && ocr
        var engine = "unknown"
        if let version = try? Subprocess.run("\(settings.bin)/gg-transcribe", ["--version"], timeout: 10) {
            let text = String(decoding: version.stdout, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.contains("whisper.cpp") }), !line.contains("not usable"), !line.contains("not compiled"),
               text.contains("whisper model: /") {
                engine = "whisper"
            } else {
                engine = FileManager.default.fileExists(atPath: "/usr/share/pocketsphinx/model/en-us/en-us") ? "sphinx" : "none"
            }
        }
        checks["speech_engine"] = engine
        ok = ok && engine != "none" && engine != "unknown"
        return .json(ok ? 200 : 503, ["status": ok ? "ready" : "not_ready", "checks": checks])
    }

    func cacheArguments() -> [String] { settings.fetchCacheArguments }

    func cacheStats(gilgamesh: Bool) -> Reply {
        guard let result = try? Subprocess.run("\(settings.bin)/gg-fetch", cacheArguments() + ["--cache-stats"], timeout: 60), result.status == 0,
              let stats = (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] else {
            return .error(500, "cannot read the cache statistics")
        }
        if gilgamesh {
            let old: [String: Any] = ["total_entries": stats["entries"] ?? 0, "total_size_bytes": stats["bytes"] ?? 0, "oldest_entry": stats["oldest"] ?? NSNull(),
                                      "newest_entry": stats["newest"] ?? NSNull(), "ttl_hours": ((stats["ttl_seconds"] as? Double) ?? 0) / 3600]
            if compatibility.apiVersion == 2 { return .json(200, ["status": "success", "stats": old]) }
            return .json(200, ["total_entries": stats["entries"] ?? 0, "total_size_bytes": stats["bytes"] ?? 0, "oldest_entry": stats["oldest"] ?? NSNull(),
                               "newest_entry": stats["newest"] ?? NSNull(), "ttl_hours": ((stats["ttl_seconds"] as? Double) ?? 0) / 3600])
        }
        return .json(200, ["status": "success", "stats": stats])
    }

    /// GET /artefacts/<request id>/<path>: a file of a request that kept its folder (cleanup_temp false),
    /// named so in its results; only files inside that folder, while it is kept.
    func artefact(_ exchange: Exchange, _ connection: OpaquePointer) -> MHD_Result {
        let parts = exchange.path.dropFirst("/artefacts/".count).split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].count == 36, parts[0].allSatisfy({ $0.isHexDigit || $0 == "-" }),
              !parts[1].split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            return finish(exchange, connection, .error(404, "no such artefact"))
        }
        let folder = settings.workRoot.appendingPathComponent("request-\(parts[0])")
        let file = folder.appendingPathComponent(parts[1]).path
        guard WorkRoot(folder).contains(file) else { return finish(exchange, connection, .error(404, "no such artefact")) }
        let opened = try? FileDescriptor.open(WorkRoot.canonical(file), O_RDONLY)
        var info = stat()
        guard let opened, fstat(opened.raw, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            return finish(exchange, connection, .error(404, "no such artefact (kept folders expire after --keep-ttl, and /cleanup removes them)"))
        }
        guard let response = MHD_create_response_from_fd(Int(info.st_size), opened.raw) else {
            return finish(exchange, connection, .error(500, "cannot send the artefact"))
        }
        _ = opened.release()
        let type = ["jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "mp4": "video/mp4",
                    "mkv": "video/x-matroska", "webm": "video/webm", "m4a": "audio/mp4", "mp3": "audio/mpeg"][(file as NSString).pathExtension.lowercased()]
        account(exchange, status: 200)
        return HTTPDaemon.queue(response, status: 200, contentType: type ?? "application/octet-stream", headers: corsHeaders(connection), on: connection)
    }

    /// POST /cleanup: removes the work folders that requests kept (cleanup_temp false) and no request is
    /// using, and with `clearCache` every cache entry too.
    func cleanup(clearCache: Bool) -> Reply {
        let removed = sweepKeptFolders(olderThan: 0)
        var cleared = false
        if clearCache {
            let reply = cacheClear(olderThanHours: nil)
            cleared = reply.status == 200
        }
        return .json(200, ["status": "success", "message": "removed \(removed) kept work folders" + (clearCache ? (cleared ? " and cleared the cache" : "; the cache could not be cleared") : ""),
                           "removed_folders": removed, "cache_cleared": cleared])
    }

    /// Removes kept request folders older than `keepTTL` seconds, every minute or so, while gg-serve runs.
    func startSweeper(keepTTL: Double) {
        Thread.detachNewThread { [self] in
            while true {
                Thread.sleep(forTimeInterval: min(60, max(1, keepTTL / 2)))
                sweepKeptFolders(olderThan: keepTTL)
            }
        }
    }

    /// Removes the request folders under the work root that no running request uses and that are older
    /// than `age` seconds; returns how many.
    @discardableResult
    func sweepKeptFolders(olderThan age: Double) -> Int {
        lock.lock()
        let busy = Set(runs.values.map { $0.folder.lastPathComponent })
        lock.unlock()
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: settings.workRoot.path)) ?? [] where name.hasPrefix("request-") && !busy.contains(name) {
            let path = settings.workRoot.appendingPathComponent(name).path
            var info = stat()
            guard lstat(path, &info) == 0, Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec) >= age else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed += 1 }
        }
        return removed
    }

    func cacheClear(olderThanHours: String?) -> Reply {
        var arguments = cacheArguments()
        if let raw = olderThanHours {
            guard let hours = Double(raw), hours >= 0, hours < 1e6 else { return .error(422, "older_than_hours must be a number of hours", field: "older_than_hours") }
            arguments += ["--cache-prune", "\(hours * 3600)s"]
        } else {
            arguments.append("--cache-clear")
        }
        guard let result = try? Subprocess.run("\(settings.bin)/gg-fetch", arguments, timeout: 300),
              let counts = (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] else {
            return .error(500, "cannot clear the cache")
        }
        let removed = counts["removed"] as? Int ?? 0
        guard result.status == 0 else { return .json(500, ["status": "error", "detail": "\(counts["failed"] ?? 0) entries could not be removed", "removed": removed]) }
        return .json(200, ["status": "success", "message": "removed \(removed) cache entries", "removed": removed])
    }
}

/// Turns result lines, in the shape gg-assemble wrote them, into the bytes of one answer: NDJSON lines,
/// `{"status":"success","results":[...]}`, `{"status":"success","result":...}`, or the old batch answer
/// with failed URLs gathered under `errors`. Only the (small) error entries of a batch are held back.
struct ResponseFramer {
    enum Kind { case lines, list, single, batch }

    static let maxHeldEntry = 64 << 10

    let kind: Kind
    private var written = 0
    private var holding = false
    private var held = [UInt8]()
    private var heldEntries = [[UInt8]]()

    init(_ kind: Kind) { self.kind = kind }

    func start() -> [UInt8] {
        switch kind {
        case .lines: return []
        case .list, .batch: return Array(#"{"status":"success","results":["#.utf8)
        case .single: return Array(#"{"status":"success","result":"#.utf8)
        }
    }

    mutating func begin(_ summary: ResultSummary?) -> [UInt8] {
        if kind == .batch && summary?.status == "error" {
            holding = true
            held = []
            return []
        }
        written += 1
        switch kind {
        case .list, .batch: return written > 1 ? Array(",".utf8) : []
        case .lines, .single: return []
        }
    }

    mutating func bytes(_ bytes: [UInt8]) -> [UInt8] {
        guard holding else { return kind == .single && written > 1 ? [] : bytes }
        if held.count < ResponseFramer.maxHeldEntry { held += bytes.prefix(ResponseFramer.maxHeldEntry - held.count) }
        return []
    }

    mutating func endOfResult() -> [UInt8] {
        if holding {
            holding = false
            if held.count < ResponseFramer.maxHeldEntry { heldEntries.append(held) }
            return []
        }
        return kind == .lines ? Array("\n".utf8) : []
    }

    func end() -> [UInt8] {
        switch kind {
        case .lines: return []
        case .list: return Array("]}\n".utf8)
        case .single: return Array(((written == 0 ? "{}" : "") + "}\n").utf8)
        case .batch:
            var out = Array(#"],"errors":["#.utf8)
            for (index, entry) in heldEntries.enumerated() { out += (index > 0 ? Array(",".utf8) : []) + entry }
            return out + Array("]}\n".utf8)
        }
    }
}

/// A connection to resume from another thread, at most once per suspension and never after it is gone.
final class Resumable: @unchecked Sendable {
    private let connection: OpaquePointer

    init(_ connection: OpaquePointer) { self.connection = connection }

    func resume() { MHD_resume_connection(connection) }
}

/// A /process answer sent as the results arrive, with memory bounded whatever their size: a pump thread
/// reads the results into a buffer of at most `capacity` bytes; libmicrohttpd's reader callback takes from it
/// and suspends the connection while it is empty; the pump resumes it when there is more.
final class ResultStream: @unchecked Sendable {
    static let capacity = 1 << 20

    let server: Server
    let run: PipelineRun
    let exchange: Exchange
    let body: ProcessBody
    let connection: OpaquePointer
    private let client: Int32
    private var framer: ResponseFramer
    private let condition = NSCondition()
    private var buffer = [UInt8]()
    private var offset = 0
    private var summaries = [ResultSummary]()
    private var ended = false
    private var gone = false
    private var closed = false
    private var suspended = false
    private var delivered = false
    /// The status waits for the first result (the old API's single URL: 200, or 400/500 for a failure).
    private var headPending: Bool
    private var failedSummary: ResultSummary?
    private var failedLine = [UInt8]()
    private var pumping = false

    init(server: Server, run: PipelineRun, exchange: Exchange, body: ProcessBody, framer: ResponseFramer, connection: OpaquePointer,
         deferHead: Bool = false) {
        self.server = server
        self.run = run
        self.exchange = exchange
        self.body = body
        self.framer = framer
        self.connection = connection
        headPending = deferHead
        client = gg_mhd_connection_fd(connection)
        buffer = self.framer.start()
    }

    /// Suspends the connection (from the access handler) until the first result says which status to
    /// answer with; the pump then resumes it with either a deferred error reply or this stream to send.
    func startDeferred() {
        condition.lock()
        suspended = true
        MHD_suspend_connection(connection)
        condition.unlock()
        startPump()
    }

    private func startPump() {
        condition.lock()
        defer { condition.unlock() }
        guard !pumping else { return }
        pumping = true
        Thread.detachNewThread { [self] in pump() }
    }

    func send(contentType: String) -> MHD_Result {
        let context = Unmanaged.passRetained(self).toOpaque()
        guard let response = MHD_create_response_from_callback(gg_mhd_size_unknown(), 1 << 15, streamReader, context, streamFree) else {
            Unmanaged<ResultStream>.fromOpaque(context).release()
            server.end(run, exchange, body, summaries: [], answered: false)
            return gg_mhd_no()
        }
        exchange.status = 200
        startPump()
        return HTTPDaemon.queue(response, status: 200, contentType: contentType, headers: server.corsHeaders(connection), on: connection)
    }

    /// Reads the run's results into the buffer until they end, the client goes or the answer is closed.
    private func pump() {
        while true {
            let event = run.next(client: client)
            // The slot is given back before the answer's end can be read (the old service's clients send their
            // next request then), and outside the lock: giving it may resume a waiting connection.
            var answerComplete = event.isEnd
            if case .endOfResult = event, failedSummary != nil { answerComplete = true }
            if answerComplete { server.freeSlot(of: run) }
            // So is the work folder removed: a client that read the answer's end finds it gone.
            if event.isEnd, body.request.cleanup { run.removeFolder() }
            condition.lock()
            switch event {
            case .begin(_, let summary):
                if let summary { summaries.append(summary) }
                if headPending && summary?.status == "error" {
                    failedSummary = summary
                } else {
                    headPending = false
                    buffer += framer.begin(summary)
                }
            case .bytes(let bytes) where failedSummary != nil:
                if failedLine.count < ResponseFramer.maxHeldEntry { failedLine += bytes }
            case .bytes(let bytes):
                buffer += framer.bytes(bytes)
            case .endOfResult where failedSummary != nil:
                let object = (try? JSONSerialization.jsonObject(with: Data(failedLine))) as? [String: Any]
                exchange.deferred = Compatibility.singleFailure(kind: failedSummary?.kind, message: object?["error"] as? String ?? "processing failed")
                failedSummary = nil
                headPending = false
                ended = true
                let collected = summaries
                wake()
                condition.unlock()
                while case let event = run.next(client: -1), !(event.isEnd) {}
                server.end(run, exchange, body, summaries: collected, answered: true, account: false)
                return
            case .endOfResult:
                buffer += framer.endOfResult()
            case .end:
                headPending = false
                buffer += framer.end()
                ended = true
            case .clientGone:
                gone = true
                headPending = false
            }
            wake()
            while !closed && !ended && !gone && buffer.count - offset > ResultStream.capacity { condition.wait() }
            let done = closed || ended || gone
            condition.unlock()
            if done { return }
        }
    }

    /// Resumes the connection if the reader suspended it; called with the lock held, never once closed.
    private func wake() {
        if suspended && !closed && !headPending {
            suspended = false
            MHD_resume_connection(connection)
        }
        condition.signal()
    }

    /// libmicrohttpd's reader callback (on one of its threads): never blocks.
    func read(into destination: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        if offset == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 2 * ResultStream.capacity)
            offset = 0
            if gone { return gg_mhd_end_with_error() }
            if ended {
                delivered = true
                return gg_mhd_end_of_stream()
            }
            suspended = true
            MHD_suspend_connection(connection)
            return 0
        }
        let count = min(max, buffer.count - offset)
        buffer.withUnsafeBufferPointer { UnsafeMutableRawPointer(destination).copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        condition.signal()
        return count
    }

    /// libmicrohttpd is done with the answer: sent whole, or cut short by the client or an error.
    func close() {
        condition.lock()
        closed = true
        let answered = delivered
        let collected = summaries
        condition.signal()
        condition.unlock()
        DispatchQueue.global().async { [self] in server.end(run, exchange, body, summaries: collected, answered: answered) }
    }
}

private let streamReader: MHD_ContentReaderCallback = { context, _, buffer, max in
    Unmanaged<ResultStream>.fromOpaque(context!).takeUnretainedValue().read(into: buffer!, max: max)
}

private let streamFree: MHD_ContentReaderFreeCallback = { context in
    let stream = Unmanaged<ResultStream>.fromOpaque(context!).takeRetainedValue()
    stream.close()
}
