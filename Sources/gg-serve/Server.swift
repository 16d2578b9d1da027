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
    let metrics = Metrics()
    private let lock = NSLock()
    private var runs: [ObjectIdentifier: PipelineRun] = [:]

    init(settings: PipelineSettings, admission: Admission, maxBody: Int, maxURLs: Int, token: String?, jsonLog: Bool) {
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
            state.pointee = Unmanaged.passRetained(Exchange(method: method, path: path)).toOpaque()
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
        return respond(exchange, connection)
    }

    private func respond(_ exchange: Exchange, _ connection: OpaquePointer) -> MHD_Result {
        let endpoint = "\(exchange.method) \(exchange.path)"
        let open = ["GET /health", "GET /ready"].contains(endpoint)
        if let token, !token.isEmpty, !open {
            let given = gg_mhd_header(connection, "Authorization").map { String(cString: $0) } ?? ""
            if !Server.sameSecret(given, "Bearer " + token) {
                var reply = Reply.error(401, "a bearer token is required: Authorization: Bearer <token>")
                reply.headers.append(("WWW-Authenticate", "Bearer"))
                return finish(exchange, connection, reply)
            }
        }
        if exchange.bodyTooLarge { return finish(exchange, connection, .error(413, "the request body is larger than --max-body \(maxBody) bytes")) }
        switch endpoint {
        case "GET /health":
            return finish(exchange, connection, .json(200, ["status": "healthy", "service": "gilgamesh"]))
        case "GET /ready":
            return finish(exchange, connection, ready())
        case "GET /metrics":
            let counts = admission.counts
            return finish(exchange, connection, Reply(status: 200, body: Data(metrics.text(inFlight: counts.running, queued: counts.waiting).utf8),
                                                      contentType: "text/plain; version=0.0.4"))
        case "GET /openapi.json":
            return finish(exchange, connection, Reply(status: 200, body: Data(OpenAPI.document.utf8)))
        case "GET /cache/stats":
            return finish(exchange, connection, cacheStats(connection))
        case "POST /cache/clear":
            return finish(exchange, connection, cacheClear(connection))
        case "POST /process", "POST /process/batch":
            return process(exchange, connection, batch: exchange.path == "/process/batch")
        default:
            let known = ["/health", "/ready", "/metrics", "/openapi.json", "/cache/stats", "/cache/clear", "/process", "/process/batch"]
            return finish(exchange, connection, known.contains(exchange.path) ? .error(405, "\(exchange.method) is not allowed on \(exchange.path)")
                : .error(404, "no such endpoint: \(exchange.path)"))
        }
    }

    /// Sends `reply`, counts it and writes the access-log line.
    func finish(_ exchange: Exchange, _ connection: OpaquePointer, _ reply: Reply) -> MHD_Result {
        exchange.status = reply.status
        metrics.request(exchange.path, reply.status)
        log(exchange)
        return HTTPDaemon.send(reply, on: connection)
    }

    func log(_ exchange: Exchange) {
        let seconds = Date().timeIntervalSince(exchange.started)
        let line: String
        if jsonLog {
            let object: [String: Any] = ["method": exchange.method, "path": exchange.path, "status": Int(exchange.status), "urls": exchange.urlCount,
                                         "seconds": (seconds * 1000).rounded() / 1000]
            line = String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
        } else {
            line = "gg-serve: \(exchange.method) \(exchange.path) \(exchange.status) urls=\(exchange.urlCount) \(String(format: "%.3f", seconds))s"
        }
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }

    static func sameSecret(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = x.count ^ y.count
        for index in 0..<max(x.count, y.count) { difference |= Int((index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)) }
        return difference == 0
    }

    // MARK: /process

    func parse(_ exchange: Exchange, _ connection: OpaquePointer, batch: Bool) -> Swift.Result<ProcessBody, Reply> {
        let queryFormat = gg_mhd_query(connection, "format").map { String(cString: $0) }
        guard let object = try? JSONSerialization.jsonObject(with: exchange.body) as? [String: Any] else {
            return .failure(.error(400, "the body must be a JSON object"))
        }
        let format = (object["format"] as? String) ?? queryFormat ?? "gg"
        guard ["gg", "gilgamesh"].contains(format) else { return .failure(.error(422, "format must be gg or gilgamesh", field: "format")) }
        var urls: [String]
        var single = false
        if let list = object["urls"] {
            guard let strings = list as? [Any], strings.allSatisfy({ $0 is String }) else {
                return .failure(.error(422, "urls must be a list of URL strings", field: "urls"))
            }
            urls = strings as! [String]
        } else if let one = object["url"], !batch {
            guard let text = one as? String else { return .failure(.error(422, "url must be a string", field: "url")) }
            urls = [text]
            single = true
        } else {
            return .failure(.error(400, "the body needs urls: [...]", field: "urls"))
        }
        if urls.isEmpty {
            return .failure(format == "gilgamesh" ? .json(400, ["detail": ["status": "error", "error": "No URLs provided"]])
                : .error(400, "No URLs provided", field: "urls"))
        }
        guard urls.count <= maxURLs else { return .failure(.error(413, "more than --max-urls \(maxURLs) URLs", field: "urls")) }
        for (index, url) in urls.enumerated() {
            let field = single ? "url" : "urls[\(index)]"
            guard let parts = URLComponents(string: url.trimmingCharacters(in: .whitespaces)), let scheme = parts.scheme?.lowercased() else {
                return .failure(.error(422, "not a URL: \(Secrets.redact(url)) (local paths are not accepted)", field: field))
            }
            guard scheme == "http" || scheme == "https", !(parts.host ?? "").isEmpty else {
                return .failure(.error(422, "only http and https URLs are accepted, not \(scheme):", field: field))
            }
        }
        var request = PipelineRequest(urls: urls)
        for (key, target) in [("encode_base64", \PipelineRequest.base64), ("cleanup_temp", \PipelineRequest.cleanup)] {
            guard let value = object[key], !(value is NSNull) else { continue }
            guard let flag = value as? Bool else {
                return .failure(.error(422, "\(key) must be true or false", field: key))
            }
            request[keyPath: target] = flag
        }
        if let value = object["threshold"], !(value is NSNull) {
            guard let number = value as? Double, (0...1).contains(number), !(value is Bool) else {
                return .failure(.error(422, "threshold must be a number from 0 to 1 (ffmpeg's scene score scale)", field: "threshold"))
            }
            request.threshold = number
        }
        if let value = object["engine"], !(value is NSNull) {
            guard let name = value as? String, ["auto", "whisper", "sphinx"].contains(name) else {
                return .failure(.error(422, "engine must be auto, whisper or sphinx", field: "engine"))
            }
            request.engine = name
        }
        if let value = object["language"], !(value is NSNull) {
            guard let code = value as? String, code == "auto" || (2...3).contains(code.count) && code.allSatisfy({ $0.isLetter && $0.isLowercase }) else {
                return .failure(.error(422, "language must be a language code such as en, or auto", field: "language"))
            }
            request.language = code
        }
        request.clips = request.base64 && format == "gilgamesh"
        return .success(ProcessBody(request: request, single: single, batch: batch, gilgamesh: format == "gilgamesh"))
    }

    func process(_ exchange: Exchange, _ connection: OpaquePointer, batch: Bool) -> MHD_Result {
        let body: ProcessBody
        switch parse(exchange, connection, batch: batch) {
        case .failure(let reply): return finish(exchange, connection, reply)
        case .success(let parsed): body = parsed
        }
        exchange.urlCount = body.request.urls.count
        guard admission.enter() else {
            var reply = Reply.error(429, "Too many concurrent requests (>\(admission.limit)). Please try again later.")
            reply.headers.append(("Retry-After", String(max(1, Int(admission.wait.rounded(.up))))))
            return finish(exchange, connection, reply)
        }
        let run: PipelineRun
        do {
            run = try PipelineRun(body.request, settings: settings)
            track(run)
            try run.start()
        } catch {
            admission.leave()
            return finish(exchange, connection, .error(503, "cannot start the pipeline: \((error as? GGError)?.message ?? "\(error)")"))
        }
        let client = gg_mhd_connection_fd(connection)
        let streaming = (gg_mhd_header(connection, "Accept").map { String(cString: $0) } ?? "").contains("application/x-ndjson")
        if streaming {
            let stream = ResultStream(server: self, run: run, exchange: exchange, body: body, client: client)
            return stream.send(on: connection)
        }
        var lines = [String]()
        while true {
            switch run.next(client: client) {
            case .line(let line):
                lines.append(line)
                continue
            case .end:
                break
            case .clientGone:
                abandon(run, exchange)
                return gg_mhd_no()
            }
            break
        }
        complete(run, body: body, lines: lines)
        return finish(exchange, connection, reply(body, lines: lines))
    }

    /// The whole answer for a request's result lines.
    func reply(_ body: ProcessBody, lines: [String]) -> Reply {
        if body.gilgamesh {
            let results = lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
            let mapped = zip(body.request.urls, results).map { Gilgamesh.result($1, url: $0) }
            if body.single { return .json(200, ["status": "success", "result": mapped.first ?? [:]]) }
            if body.batch {
                let ok = zip(body.request.urls, mapped).filter { ($0.1["status"] as? String) != "error" }
                    .map { ["status": "success", "url": $0.0, "result": $0.1] as [String: Any] }
                let failed = mapped.filter { ($0["status"] as? String) == "error" }
                    .map { ["status": "error", "url": $0["url"] ?? "", "detail": $0["error"] ?? ""] as [String: Any] }
                return .json(200, ["status": "success", "results": ok, "errors": failed])
            }
            return .json(200, ["status": "success", "results": mapped])
        }
        let joined = lines.joined(separator: ",")
        let text = body.single ? "{\"status\":\"success\",\"result\":\(lines.first ?? "{}")}\n" : "{\"status\":\"success\",\"results\":[\(joined)]}\n"
        return Reply(status: 200, body: Data(text.utf8))
    }

    /// Accounts a finished run: metrics, work folder, slot.
    func complete(_ run: PipelineRun, body: ProcessBody, lines: [String]) {
        for (stage, _, seconds) in run.finish() { metrics.stage(stage, seconds: seconds) }
        for line in lines {
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
            metrics.result(status: object["status"] as? String ?? "error", kind: (object["error"] as? [String: Any])?["kind"] as? String)
            for key in ["videos", "images", "audio"] {
                for item in object[key] as? [[String: Any]] ?? [] { if let cache = item["cache"] as? String { metrics.cache(cache) } }
            }
        }
        if body.request.cleanup { run.removeFolder() }
        untrack(run)
        admission.leave()
    }

    /// A client that went away: its pipeline's process groups are killed and its folder removed.
    func abandon(_ run: PipelineRun, _ exchange: Exchange) {
        run.stop()
        run.removeFolder()
        untrack(run)
        admission.leave()
        exchange.status = 499
        metrics.request(exchange.path, 499)
        log(exchange)
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
        for run in left {
            run.stop()
            run.removeFolder()
        }
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

    func cacheArguments() -> [String] { settings.cacheDir.map { ["--cache-dir", $0.path] } ?? [] }

    func cacheStats(_ connection: OpaquePointer) -> Reply {
        guard let result = try? Subprocess.run("\(settings.bin)/gg-fetch", cacheArguments() + ["--cache-stats"], timeout: 60), result.status == 0,
              let stats = (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] else {
            return .error(500, "cannot read the cache statistics")
        }
        let gilgamesh = gg_mhd_query(connection, "format").map { String(cString: $0) } == "gilgamesh"
        if gilgamesh {
            return .json(200, ["total_entries": stats["entries"] ?? 0, "total_size_bytes": stats["bytes"] ?? 0, "oldest_entry": stats["oldest"] ?? NSNull(),
                               "newest_entry": stats["newest"] ?? NSNull(), "ttl_hours": ((stats["ttl_seconds"] as? Double) ?? 0) / 3600])
        }
        return .json(200, ["status": "success", "stats": stats])
    }

    func cacheClear(_ connection: OpaquePointer) -> Reply {
        var arguments = cacheArguments()
        if let raw = gg_mhd_query(connection, "older_than_hours").map({ String(cString: $0) }) {
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

/// A streamed /process answer: one result line per URL, sent as soon as it and those before it are done.
final class ResultStream: @unchecked Sendable {
    let server: Server
    let run: PipelineRun
    let exchange: Exchange
    let body: ProcessBody
    let client: Int32
    private var pending = [UInt8]()
    private var lines = [String]()
    private var index = 0
    private var ended = false

    init(server: Server, run: PipelineRun, exchange: Exchange, body: ProcessBody, client: Int32) {
        self.server = server
        self.run = run
        self.exchange = exchange
        self.body = body
        self.client = client
    }

    func send(on connection: OpaquePointer) -> MHD_Result {
        let context = Unmanaged.passRetained(self).toOpaque()
        guard let response = MHD_create_response_from_callback(gg_mhd_size_unknown(), 1 << 15, streamReader, context, streamFree) else {
            Unmanaged<ResultStream>.fromOpaque(context).release()
            return gg_mhd_no()
        }
        defer { MHD_destroy_response(response) }
        _ = MHD_add_response_header(response, "Content-Type", "application/x-ndjson")
        exchange.status = 200
        return MHD_queue_response(connection, 200, response)
    }

    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        while pending.isEmpty {
            switch run.next(client: client) {
            case .line(let line):
                lines.append(line)
                var text = line
                if body.gilgamesh, let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] {
                    let url = index < body.request.urls.count ? body.request.urls[index] : ""
                    text = String(decoding: (try? JSONSerialization.data(withJSONObject: Gilgamesh.result(object, url: url), options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
                }
                index += 1
                pending = Array((text + "\n").utf8)
            case .end:
                ended = true
                return gg_mhd_end_of_stream()
            case .clientGone:
                return gg_mhd_end_with_error()
            }
        }
        let count = min(max, pending.count)
        pending.withUnsafeBufferPointer { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: count) }
        pending.removeFirst(count)
        return count
    }

    func close() {
        if ended {
            server.complete(run, body: body, lines: lines)
            server.metrics.request(exchange.path, 200)
            server.log(exchange)
        } else {
            server.abandon(run, exchange)
        }
    }
}

private let streamReader: MHD_ContentReaderCallback = { context, _, buffer, max in
    Unmanaged<ResultStream>.fromOpaque(context!).takeUnretainedValue().read(into: buffer!, max: max)
}

private let streamFree: MHD_ContentReaderFreeCallback = { context in
    let stream = Unmanaged<ResultStream>.fromOpaque(context!).takeRetainedValue()
    stream.close()
}
