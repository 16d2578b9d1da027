import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A gg-serve started on a free port of 127.0.0.1, stopped when released.
final class ServeProcess {
    let process = Process()
    let port: Int
    let work: URL
    private let errors = Pipe()
    private let log = DataBox()
    private let done = DispatchSemaphore(value: 0)

    init(_ arguments: [String] = [], environment: [String: String] = [:], work: URL) throws {
        self.work = work
        process.executableURL = URL(fileURLWithPath: TestEnv.tool("gg-serve"))
        process.arguments = ["--listen", "127.0.0.1:0", "--work-dir", work.path, "--cache-dir", work.appendingPathComponent("../cache").standardizedFileURL.path,
                             "--allow-host", "127.0.0.1:*", "--timeout", "60"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["GG_API_TOKEN"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var first = Data()
        while true {
            let byte = errors.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            first.append(byte)
        }
        let line = String(decoding: first, as: UTF8.self)
        guard let range = line.range(of: #"listening on [0-9.]+:(\d+)"#, options: .regularExpression),
              let port = Int(line[range].split(separator: ":").last ?? "") else {
            throw NSError(domain: "serve", code: 1, userInfo: [NSLocalizedDescriptionKey: "gg-serve did not start: \(line)"])
        }
        self.port = port
        Thread.detachNewThread { [errors, log, done] in
            log.data = errors.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The access log and diagnostics, once the server has exited.
    func stderrAfterExit() -> String {
        process.waitUntilExit()
        done.wait()
        return String(decoding: log.data, as: UTF8.self)
    }

    /// Children of the server that still run (its stage processes).
    func children() -> [Int32] {
        let pid = process.processIdentifier
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8) else { return false }
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            return fields.count > 2 && fields[0] != "Z" && Int32(fields[1]) == pid
        }
    }
}

/// An HTTP answer as curl saw it.
struct HTTPAnswer {
    var status: Int
    var body: String
    var headers: String

    func json() throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], body)
    }
}

/// Starts gg-serve and talks HTTP to it with curl.
class ServeTestCase: ServerTestCase {

    func serve(_ arguments: [String] = [], environment: [String: String] = [:]) throws -> ServeProcess {
        try ServeProcess(["--bin", TestEnv.products.path] + arguments, environment: environment, work: dir.appendingPathComponent("work"))
    }

    func http(_ serve: ServeProcess, _ method: String, _ path: String, body: String? = nil, headers: [String] = []) throws -> HTTPAnswer {
        let headerFile = dir.appendingPathComponent("headers-\(UUID().uuidString)").path
        var arguments = ["-s", "-X", method, "-D", headerFile, "-o", "-", "-w", "\n%{http_code}", serve.url + path]
        for header in headers { arguments += ["-H", header] }
        if body != nil { arguments += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        let output = try runProcess("/usr/bin/curl", arguments, stdin: body ?? "")
        var lines = output.stdout.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? 0
        return HTTPAnswer(status: status, body: lines.joined(separator: "\n"), headers: (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? "")
    }

    func process(_ serve: ServeProcess, _ urls: [String], extra: String = "", path: String = "/process") throws -> HTTPAnswer {
        let list = String(decoding: try JSONSerialization.data(withJSONObject: urls, options: [.withoutEscapingSlashes]), as: UTF8.self)
        return try http(serve, "POST", path, body: #"{"urls": \#(list), "engine": "sphinx"\#(extra)}"#)
    }

    /// Validates `json` against a component schema of the served OpenAPI document.
    func check(_ serve: ServeProcess, _ json: String, schema: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let doc = dir.appendingPathComponent("openapi.json")
        if !FileManager.default.fileExists(atPath: doc.path) { try http(serve, "GET", "/openapi.json").body.write(to: doc, atomically: true, encoding: .utf8) }
        let result = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/openapi_check.py").path, doc.path, schema], stdin: json)
        XCTAssertEqual(result.status, 0, "\(schema): \(result.stderr)", file: file, line: line)
    }

}

/// gg-serve over real HTTP on 127.0.0.1 (issue 14).
final class ServeTests: ServeTestCase {
    func testProcessKeepsOrderAndCountWithMixedURLs() throws {
        let serve = try serve()
        let urls = [server.url("/file/sign.png"), server.url("/status/404"), server.url("/file/talk.mp4"), server.url("/html"), server.url("/file/poster.jpg")]
        let answer = try process(serve, urls)
        XCTAssertEqual(answer.status, 200, answer.body)
        let results = try answer.json()["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.map { $0.string("url") }, urls)
        XCTAssertEqual(results.map { $0.string("status") }, ["success", "error", "success", "error", "success"])
        XCTAssertEqual(results[1].errorKind, "http_error")
        XCTAssertFalse((results[2].array("videos").first?.dict("transcript")?.string("text") ?? "").isEmpty)
        try check(serve, answer.body, schema: "ProcessResponse")
        let single = try http(serve, "POST", "/process", body: #"{"url": "\#(server.url("/file/sign.png"))"}"#)
        XCTAssertEqual(try single.json().dict("result")?.array("images").first?.string("text"), "OPEN SOURCE VIDEO TOOLS")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: serve.work.path), [], "cleanup_temp removes each request's folder")
    }

    func testBadRequestsAreJSONErrorsNamingTheField() throws {
        let serve = try serve(["--max-body", "400"])
        let cases: [(String, Int, String?)] = [
            ("not json", 400, nil), (#"{"urls": []}"#, 400, "urls"), (#"{"urls": "http://x/"}"#, 422, "urls"), (#"{"urls": [3]}"#, 422, "urls"),
            (#"{"urls": ["file:///etc/passwd"]}"#, 422, "urls[0]"), (#"{"urls": ["http://a.example/x", "/etc/passwd"]}"#, 422, "urls[1]"),
            (#"{"urls": ["http://a.example/x"], "encode_base64": "yes"}"#, 422, "encode_base64"),
            (#"{"urls": ["http://a.example/x"], "threshold": 5}"#, 422, "threshold"),
            (#"{"urls": ["http://a.example/x"], "engine": "gpt"}"#, 422, "engine"),
            (#"{"urls": ["\#(String(repeating: "a", count: 500))"]}"#, 413, nil)]
        for (body, status, field) in cases {
            let answer = try http(serve, "POST", "/process", body: body)
            XCTAssertEqual(answer.status, status, body)
            XCTAssertTrue(answer.headers.lowercased().contains("content-type: application/json"), answer.headers)
            let object = try answer.json()
            XCTAssertEqual(object.string("status"), "error")
            XCTAssertNotNil(object.string("detail"))
            if let field { XCTAssertEqual(object.string("field"), field, body) }
            try check(serve, answer.body, schema: "Error")
        }
        XCTAssertEqual(try http(serve, "GET", "/nothing").status, 404)
        XCTAssertEqual(try http(serve, "GET", "/process").status, 405)
        XCTAssertEqual(try http(serve, "GET", "/process").json().string("status"), "error")
    }

    func testGilgameshFormatMatchesTheOldContract() throws {
        let serve = try serve()
        let urls = [server.url("/file/captions.mp4"), server.url("/file/poster.jpg"), server.url("/status/500")]
        for (path, extra) in [("/process?format=gilgamesh", ""), ("/process", #", "format": "gilgamesh""#)] {
            let list = String(decoding: try JSONSerialization.data(withJSONObject: urls, options: [.withoutEscapingSlashes]), as: UTF8.self)
            let answer = try http(serve, "POST", path, body: #"{"urls": \#(list), "encode_base64": true, "engine": "sphinx"\#(extra)}"#)
            XCTAssertEqual(answer.status, 200, answer.body)
            let schema = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/openapi_check.py").path, "--schema",
                                                         TestEnv.repo.appendingPathComponent("Tests/Support/gilgamesh.schema.json").path], stdin: answer.body)
            XCTAssertEqual(schema.status, 0, schema.stderr)
            let results = try answer.json()["results"] as? [[String: Any]] ?? []
            XCTAssertEqual(results.count, 3)
            let scenes = results[0].array("videos").first?.array("scenes") ?? []
            XCTAssertEqual(scenes.count, 3)
            XCTAssertTrue(scenes.allSatisfy { ($0.string("video") ?? "").count > 100 }, "encode_base64 gives each scene's clip")
            XCTAssertEqual(results[1].array("images").first?.string("text").map { wordRecall(expected: "SUMMER SALE FIFTY PERCENT", in: $0) >= 0.75 }, true)
            XCTAssertEqual(results[2].string("status"), "error")
            XCTAssertEqual(results[2].string("url"), urls[2])
        }
        let empty = try http(serve, "POST", "/process?format=gilgamesh", body: #"{"urls": []}"#)
        XCTAssertEqual(empty.status, 400)
        XCTAssertEqual(try empty.json().dict("detail")?.string("error"), "No URLs provided")
        let batch = try http(serve, "POST", "/process/batch?format=gilgamesh", body: #"{"urls": ["\#(server.url("/file/sign.png"))", "\#(server.url("/status/404"))"]}"#)
        let object = try batch.json()
        XCTAssertEqual((object["results"] as? [[String: Any]])?.first?.string("url"), server.url("/file/sign.png"))
        XCTAssertEqual((object["errors"] as? [[String: Any]])?.first?.string("url"), server.url("/status/404"))
    }

    func testStreamingDeliversTheFirstResultBeforeTheLastURLFinishes() throws {
        let serve = try serve()
        let urls = [server.url("/file/sign.png"), server.url("/slow/4000/poster.jpg")]
        let client = """
        import json, sys, time, urllib.request
        body = json.dumps({"urls": sys.argv[2:], "engine": "sphinx"}).encode()
        request = urllib.request.Request(sys.argv[1] + "/process", data=body, headers={"Accept": "application/x-ndjson", "Content-Type": "application/json"})
        start = time.time()
        with urllib.request.urlopen(request) as response:
            print(response.headers["Content-Type"])
            for line in response:
                print(round(time.time() - start, 2), json.loads(line)["url"])
        """
        let result = try runProcess("/usr/bin/env", ["python3", "-c", client, serve.url] + urls)
        let lines = result.lines
        XCTAssertEqual(lines.count, 3, result.stderr)
        XCTAssertEqual(lines.first, "application/x-ndjson")
        let times = lines.dropFirst().compactMap { Double($0.split(separator: " ")[0]) }
        XCTAssertEqual(lines.dropFirst().map { String($0.split(separator: " ")[1]) }, urls)
        XCTAssertLessThan(times[0] + 2.5, times[1], "the first result waited for the slow URL: \(times)")
    }

    /// A client that goes away cancels its request: the stages are killed and its folder removed.
    func testDisconnectKillsThePipeline() throws {
        let serve = try serve()
        let client = """
        import json, socket, sys, time
        body = json.dumps({"urls": [sys.argv[2]]}).encode()
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(b"POST /process HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
        time.sleep(1.5)
        s.close()
        """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", client, String(serve.port), server.url("/slow/30000/sign.png")]
        try python.run()
        usleep(1_000_000)
        XCTAssertEqual(serve.children().count, 5, "the request's five stages run while the client waits")
        python.waitUntilExit()
        // The teardown kills the stages, then removes the folder, off the server's threads: wait for both.
        let deadline = Date().addingTimeInterval(20)
        while (!serve.children().isEmpty || (try? FileManager.default.contentsOfDirectory(atPath: serve.work.path))?.isEmpty == false)
                && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(serve.children(), [], "stage processes outlived their request")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: serve.work.path), [], "the request's folder was left")
        let metrics = try http(serve, "GET", "/metrics").body
        XCTAssertTrue(metrics.contains(#"gg_requests_total{endpoint="/process",status="499"} 1"#), metrics)
    }

    func testOverloadAnswers429WithRetryAfter() throws {
        let serve = try serve(["--max-concurrent", "1", "--queue", "0"])
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", serve.url + "/process", "-d", #"{"urls": ["\#(server.url("/slow/3000/sign.png"))"]}"#]
        try slow.run()
        usleep(800_000)
        let rejected = try process(serve, [server.url("/file/sign.png")])
        XCTAssertEqual(rejected.status, 429, rejected.body)
        XCTAssertTrue(rejected.headers.lowercased().contains("retry-after:"), rejected.headers)
        slow.waitUntilExit()
        XCTAssertEqual(try process(serve, [server.url("/file/sign.png")]).status, 200)
        XCTAssertTrue(try http(serve, "GET", "/metrics").body.contains("gg_requests_rejected_total 1"))
    }

    func testCacheEndpointsShareGgFetchsCache() throws {
        let serve = try serve()
        XCTAssertEqual(try process(serve, [server.url("/file/sign.png")]).status, 200)
        let stats = try http(serve, "GET", "/cache/stats")
        XCTAssertEqual(try stats.json().dict("stats")?["entries"] as? Int, 1, stats.body)
        try check(serve, stats.body, schema: "CacheStats")
        let old = try http(serve, "GET", "/cache/stats?format=gilgamesh").json()
        XCTAssertEqual(old.dict("stats")?["total_entries"] as? Int, 1, "the old service's second API wraps its statistics: \(old)")
        XCTAssertEqual(try http(serve, "POST", "/cache/clear?older_than_hours=1").json()["removed"] as? Int, 0)
        XCTAssertEqual(try http(serve, "POST", "/cache/clear?older_than_hours=soon").status, 422)
        let cleared = try http(serve, "POST", "/cache/clear")
        XCTAssertEqual(try cleared.json()["removed"] as? Int, 2, "the download and the result")
        try check(serve, cleared.body, schema: "CacheClear")
        XCTAssertEqual(try http(serve, "GET", "/cache/stats").json().dict("stats")?["entries"] as? Int, 0)
    }

    func testHealthReadyMetricsAndTheOpenAPIDocument() throws {
        let serve = try serve()
        let health = try http(serve, "GET", "/health")
        XCTAssertEqual(try health.json().string("status"), "healthy")
        try check(serve, health.body, schema: "Health")
        let ready = try http(serve, "GET", "/ready")
        XCTAssertEqual(ready.status, 200, ready.body)
        XCTAssertEqual(try ready.json().dict("checks")?.string("speech_engine"), "whisper")
        try check(serve, ready.body, schema: "Ready")
        let before = try http(serve, "GET", "/metrics").body
        XCTAssertFalse(before.contains("gg_url_results_total{status=\"success\""))
        XCTAssertEqual(try process(serve, [server.url("/file/sign.png"), server.url("/status/404")]).status, 200)
        let after = try http(serve, "GET", "/metrics").body
        XCTAssertTrue(after.contains(#"gg_url_results_total{status="success",kind=""} 1"#), after)
        XCTAssertTrue(after.contains(#"gg_url_results_total{status="error",kind="http_error"} 1"#), after)
        XCTAssertTrue(after.contains(#"gg_stage_seconds_count{stage="fetch"} 1"#), after)
        XCTAssertTrue(after.contains(#"gg_requests_total{endpoint="/process",status="200"} 1"#), after)
        XCTAssertTrue(after.contains(#"gg_cache_requests_total{result="miss"} 1"#), after)
        XCTAssertEqual(try process(serve, [server.url("/file/sign.png")]).status, 200)
        XCTAssertTrue(try http(serve, "GET", "/metrics").body.contains("gg_result_cache_hits_total 1"))
        XCTAssertEqual(try process(serve, [server.url("/file/sign.png")], extra: #", "threshold": 0.3"#).status, 200)
        XCTAssertTrue(try http(serve, "GET", "/metrics").body.contains(#"gg_cache_requests_total{result="hit"} 1"#), "another key, the download from the cache")
        let doc = dir.appendingPathComponent("openapi.json")
        try http(serve, "GET", "/openapi.json").body.write(to: doc, atomically: true, encoding: .utf8)
        let valid = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/openapi_check.py").path, doc.path])
        XCTAssertEqual(valid.status, 0, valid.stderr)
    }

    func testTokenIsRequiredExceptForHealthAndReady() throws {
        let serve = try serve(environment: ["GG_API_TOKEN": "s3cret"])
        XCTAssertEqual(try http(serve, "GET", "/health").status, 200)
        XCTAssertEqual(try http(serve, "GET", "/ready").status, 200)
        for path in ["/metrics", "/cache/stats", "/openapi.json"] {
            XCTAssertEqual(try http(serve, "GET", path).status, 401, path)
            XCTAssertEqual(try http(serve, "GET", path, headers: ["Authorization: Bearer wrong"]).status, 401, path)
        }
        XCTAssertEqual(try process(serve, [server.url("/file/sign.png")]).status, 401)
        XCTAssertEqual(try http(serve, "GET", "/metrics", headers: ["Authorization: Bearer s3cret"]).status, 200)
    }

    func testPrivateAddressesAreRefusedByDefault() throws {
        let serve = try serve()
        let urls = ["http://127.0.0.2:\(server.port)/file/sign.png", server.url("/redirect-to/127.0.0.2:\(server.port)/sign.png"), server.url("/file/sign.png")]
        let results = try process(serve, urls).json()["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.map(\.errorKind), ["forbidden_address", "forbidden_address", nil])
    }

    func testSigtermLetsRequestsFinishThenExits() throws {
        let serve = try serve(["--grace", "20"])
        let slow = Process()
        let output = Pipe()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-w", "\n%{http_code}", serve.url + "/process", "-d", #"{"urls": ["\#(server.url("/slow/2000/sign.png"))"]}"#]
        slow.standardOutput = output
        try slow.run()
        usleep(700_000)
        kill(serve.process.processIdentifier, SIGTERM)
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        slow.waitUntilExit()
        XCTAssertTrue(answer.hasSuffix("\n200"), answer)
        XCTAssertTrue(answer.contains("OPEN SOURCE VIDEO TOOLS"), answer)
        _ = serve.stderrAfterExit()
        XCTAssertEqual(serve.process.terminationStatus, 0)
    }

    /// Only downloads were cached: a repeated request redid scenes, OCR and speech. The assembled result is
    /// now cached under the URL and the stage options, shared with pipelines/run.sh, marked as a hit, and
    /// covered by /cache/stats and /cache/clear.
    func testRepeatedRequestIsAnsweredFromTheResultCacheSharedWithRunSh() throws {
        let serve = try serve()
        let url = server.url("/file/captions.mp4")
        let first = try process(serve, [url])
        XCTAssertEqual(first.status, 200, first.body)
        var fresh = try XCTUnwrap((try first.json()["results"] as? [[String: Any]])?.first)
        XCTAssertNil(fresh["result_cache"])
        let second = try process(serve, [url])
        var cached = try XCTUnwrap((try second.json()["results"] as? [[String: Any]])?.first)
        XCTAssertEqual(cached.string("result_cache"), "hit")
        cached["result_cache"] = nil
        fresh["result_cache"] = nil
        XCTAssertEqual(NSDictionary(dictionary: cached), NSDictionary(dictionary: fresh), "a hit is the same result")
        let other = try process(serve, [url], extra: #", "threshold": 0.5"#)
        XCTAssertNil((try other.json()["results"] as? [[String: Any]])?.first?["result_cache"], "other options, another key")
        XCTAssertTrue(try http(serve, "GET", "/metrics").body.contains("gg_result_cache_hits_total 1"))
        let stats = try http(serve, "GET", "/cache/stats").json().dict("stats") ?? [:]
        XCTAssertEqual(stats["result_entries"] as? Int, 2, "\(stats)")
        let list = dir.appendingPathComponent("urls.txt")
        try "\(url)\n".write(to: list, atomically: true, encoding: .utf8)
        let cache = serve.work.appendingPathComponent("../cache").standardizedFileURL
        let run = try runProcess(TestEnv.repo.appendingPathComponent("pipelines/run.sh").path,
                                 ["--bin", TestEnv.products.path, "--cleanup", "--engine", "sphinx", "--cache-dir", cache.path,
                                  "--result-cache", cache.appendingPathComponent("results").path, list.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try run.records().first?.string("result_cache"), "hit", "run.sh and gg-serve share the result cache")
        let schema = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/validate.py").path,
                                                     TestEnv.repo.appendingPathComponent("docs/schemas/result.schema.json").path], stdin: run.stdout)
        XCTAssertEqual(schema.status, 0, "a cached result is a result: " + schema.stdout + schema.stderr)
        XCTAssertEqual(try http(serve, "POST", "/cache/clear").status, 200)
        XCTAssertEqual(try http(serve, "GET", "/cache/stats").json().dict("stats")?["result_entries"] as? Int, 0)
        XCTAssertNil((try process(serve, [url]).json()["results"] as? [[String: Any]])?.first?["result_cache"])
    }
}
