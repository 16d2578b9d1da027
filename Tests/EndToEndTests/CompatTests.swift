import Foundation
import XCTest

/// gg-serve as a drop-in for the old Gilgamesh service (issue 34): started with `--format gilgamesh`, it
/// answers requests written exactly as the old service's own clients write them (its test.sh of both API
/// versions, test_async.sh, test_cleanup.sh and scripts/smoke_test.py), with local media in place of their
/// Instagram URLs and no format parameter.
final class CompatTests: ServeTestCase {
    func compat(_ extra: [String] = []) throws -> ServeProcess {
        try serve(["--format", "gilgamesh"] + extra)
    }

    /// Validates an answer against the old service's result schema.
    func checkOldShape(_ body: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let schema = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/openapi_check.py").path, "--schema",
                                                     TestEnv.repo.appendingPathComponent("Tests/Support/gilgamesh.schema.json").path], stdin: body)
        XCTAssertEqual(schema.status, 0, schema.stderr, file: file, line: line)
    }

    /// test.sh at d69bc4f (the first API): a list of URLs, no base64, folders kept; then test_cleanup.sh's
    /// manual cleanup and cache statistics.
    func testFirstAPIClientsTestAndCleanupScripts() throws {
        let serve = try compat(["--gilgamesh-api", "1"])
        let urls = [server.url("/file/captions.mp4"), server.url("/file/poster.jpg")]
        let answer = try http(serve, "POST", "/process", body: """
        {
            "urls": ["\(urls[0])", "\(urls[1])"],
            "encode_base64": false,
            "cleanup_temp": false
          }
        """)
        XCTAssertEqual(answer.status, 200, answer.body)
        try checkOldShape(answer.body)
        let results = try answer.json()["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.map { $0.string("url") }, urls)
        XCTAssertEqual(results[0].array("videos").first?.array("scenes").count, 3)
        XCTAssertNil(results[0].array("videos").first?.array("scenes").first?["video"], "encode_base64 false: no clips")
        XCTAssertFalse(answer.body.contains(serve.work.path), "server paths are not the client's business")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: serve.work.path).count, 1, "cleanup_temp false keeps the folder")
        let stats = try http(serve, "GET", "/cache/stats")
        XCTAssertEqual(stats.status, 200)
        XCTAssertEqual(try stats.json()["total_entries"] as? Int, 2, "the first API's /cache/stats is unwrapped: \(stats.body)")
        let cleanup = try http(serve, "POST", "/cleanup?clear_cache=true")
        XCTAssertEqual(cleanup.status, 200, cleanup.body)
        XCTAssertEqual(try cleanup.json().string("status"), "success")
        XCTAssertEqual(try cleanup.json()["cache_cleared"] as? Bool, true)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: serve.work.path), [], "/cleanup removes kept folders")
        XCTAssertEqual(try http(serve, "GET", "/cache/stats").json()["total_entries"] as? Int, 0)
        let failing = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/status/404"))"], "encode_base64": false, "cleanup_temp": true}"#)
        XCTAssertEqual(failing.status, 200)
        let failed = try XCTUnwrap((try failing.json()["results"] as? [[String: Any]])?.first)
        XCTAssertEqual(failed.string("status"), "error")
        XCTAssertNotNil(failed.string("error"))
        XCTAssertEqual(failed.string("url"), server.url("/status/404"))
    }

    /// test.sh at 2bb104a and test_async.sh (the second API): one URL, the batch endpoint with a URL that
    /// fails among good ones, /cache/stats wrapped, and /cleanup with a JSON body.
    func testSecondAPIClientsAsyncScript() throws {
        let serve = try compat()
        let single = try http(serve, "POST", "/process", body: """
        {
            "url": "\(server.url("/file/sign.png"))",
            "cleanup_temp": true,
            "encode_base64": false
          }
        """)
        XCTAssertEqual(single.status, 200, single.body)
        XCTAssertEqual(try single.json().string("status"), "success")
        XCTAssertEqual(try single.json().dict("result")?.array("images").first?.string("text"), "OPEN SOURCE VIDEO TOOLS")
        let urls = [server.url("/file/sign.png"), server.url("/status/500"), server.url("/file/poster.jpg")]
        let batch = try http(serve, "POST", "/process/batch", body: """
        {
            "urls": ["\(urls[0])", "\(urls[1])", "\(urls[2])"],
            "cleanup_temp": true,
            "encode_base64": false
          }
        """)
        XCTAssertEqual(batch.status, 200, batch.body)
        let object = try batch.json()
        XCTAssertEqual((object["results"] as? [[String: Any]])?.map { $0.string("url") }, [urls[0], urls[2]])
        XCTAssertEqual((object["results"] as? [[String: Any]])?.map { $0.string("status") }, ["success", "success"])
        XCTAssertEqual((object["errors"] as? [[String: Any]])?.map { $0.string("url") }, [urls[1]])
        XCTAssertNotNil((object["errors"] as? [[String: Any]])?.first?.string("detail"))
        let stats = try http(serve, "GET", "/cache/stats").json()
        XCTAssertEqual(stats.string("status"), "success")
        XCTAssertEqual(stats.dict("stats")?["total_entries"] as? Int, 2, "\(stats)")
        let cleanup = try http(serve, "POST", "/cleanup", body: #"{"clear_cache_data": true, "encode_base64": false}"#)
        XCTAssertEqual(try cleanup.json()["cache_cleared"] as? Bool, true, cleanup.body)
        XCTAssertEqual(try http(serve, "GET", "/cache/stats").json().dict("stats")?["total_entries"] as? Int, 0)
    }

    /// scripts/smoke_test.py (51057f9): /health, then one URL with threshold 0.22 and encode_base64 true;
    /// a client that never sets encode_base64 gets the clips too (the old default was true).
    func testSmokeTestAndTheBase64Default() throws {
        let serve = try compat()
        XCTAssertEqual(try http(serve, "GET", "/health").status, 200)
        let smoke = try http(serve, "POST", "/process", body: #"{"url": "\#(server.url("/file/captions.mp4"))", "cleanup_temp": true, "threshold": 0.22, "encode_base64": true}"#)
        XCTAssertEqual(smoke.status, 200, smoke.body)
        let defaulted = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/captions.mp4"))"]}"#)
        try checkOldShape(defaulted.body)
        let scenes = (try defaulted.json()["results"] as? [[String: Any]])?.first?.array("videos").first?.array("scenes") ?? []
        XCTAssertEqual(scenes.count, 3)
        XCTAssertTrue(scenes.allSatisfy { ($0.string("video") ?? "").count > 100 }, "encode_base64 defaults to true")
    }

    /// A client sending one request after another to a service that runs one at a time got 429 "Too many
    /// concurrent requests" now and then (in a fresh clone under load): the slot was given back only once the
    /// answered run's stages had exited, after the client had read its answer. It is given back as the last
    /// result goes into the answer now, as the old service's semaphore was released before its reply.
    func testOneRequestAfterAnotherIsNeverTurnedAway() throws {
        let serve = try compat(["--max-concurrent", "1", "--queue", "0"])
        for n in 0..<40 {
            let path = n % 2 == 0 ? "/status/404" : "/file/sign.png"
            let answer = try http(serve, "POST", "/process", body: #"{"url": "\#(server.url(path))", "encode_base64": false}"#)
            XCTAssertNotEqual(answer.status, 429, "request \(n): \(answer.body)")
        }
    }

    /// The second API's statuses: a single URL that fails is 400 "Unsupported URL" (a page without media)
    /// or 500 with the message; a missing field or bad JSON is FastAPI's 422 with a list; overload is 429
    /// with "Too many concurrent requests"; and every origin may read answers (CORS, preflight answered).
    func testErrorStatusesDetailShapesAndCORS() throws {
        let serve = try compat(["--max-concurrent", "1", "--queue", "0"])
        let unsupported = try http(serve, "POST", "/process", body: #"{"url": "\#(server.url("/html"))"}"#)
        XCTAssertEqual(unsupported.status, 400, unsupported.body)
        XCTAssertEqual(try unsupported.json().string("detail"), "Unsupported URL")
        let failed = try http(serve, "POST", "/process", body: #"{"url": "\#(server.url("/status/404"))", "encode_base64": false}"#)
        XCTAssertEqual(failed.status, 500, failed.body)
        XCTAssertTrue(try failed.json().string("detail")?.contains("404") == true, failed.body)
        for body in ["{}", "not json", #"{"url": 3}"#] {
            let answer = try http(serve, "POST", "/process", body: body)
            XCTAssertEqual(answer.status, 422, body)
            let detail = try XCTUnwrap(try answer.json()["detail"] as? [[String: Any]], answer.body)
            XCTAssertEqual((detail.first?["loc"] as? [String])?.first, "body", answer.body)
            XCTAssertNotNil(detail.first?.string("msg"))
        }
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", serve.url + "/process", "-d", #"{"urls": ["\#(server.url("/slow/3000/sign.png"))"]}"#]
        try slow.run()
        usleep(800_000)
        let busy = try http(serve, "POST", "/process", body: #"{"url": "\#(server.url("/file/sign.png"))", "encode_base64": false}"#)
        XCTAssertEqual(busy.status, 429)
        XCTAssertTrue(try busy.json().string("detail")?.contains("Too many concurrent requests") == true, busy.body)
        slow.waitUntilExit()
        let preflight = try http(serve, "OPTIONS", "/process", headers: ["Origin: https://app.example", "Access-Control-Request-Method: POST",
                                                                          "Access-Control-Request-Headers: content-type"])
        XCTAssertEqual(preflight.status, 204, preflight.headers)
        let headers = preflight.headers.lowercased()
        XCTAssertTrue(headers.contains("access-control-allow-origin: *") && headers.contains("access-control-allow-methods: ") && headers.contains("content-type"), headers)
        let health = try http(serve, "GET", "/health", headers: ["Origin: https://app.example"])
        XCTAssertTrue(health.headers.lowercased().contains("access-control-allow-origin: *"), health.headers)
        let streamed = try runProcess("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Origin: https://app.example", serve.url + "/process",
                                                         "-d", #"{"urls": ["\#(server.url("/file/sign.png"))"], "encode_base64": false}"#])
        XCTAssertTrue(streamed.stdout.lowercased().contains("access-control-allow-origin: *"), streamed.stdout)
    }

    /// gg's own format stays the default without --format, and CORS is off there unless asked for.
    func testGgFormatStaysTheDefaultAndCORSIsOptIn() throws {
        let serve = try serve()
        let answer = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))"], "engine": "sphinx"}"#, headers: ["Origin: https://app.example"])
        XCTAssertNotNil((try answer.json()["results"] as? [[String: Any]])?.first?["videos"], "gg's shape has videos: []")
        XCTAssertFalse(answer.headers.lowercased().contains("access-control-allow-origin"))
        let allowed = try self.serve(["--cors-origin", "https://app.example"])
        let health = try http(allowed, "GET", "/health", headers: ["Origin: https://app.example"])
        XCTAssertTrue(health.headers.contains("Access-Control-Allow-Origin: https://app.example"), health.headers)
        XCTAssertFalse(try http(allowed, "GET", "/health", headers: ["Origin: https://evil.example"]).headers.lowercased().contains("access-control-allow-origin"))
    }

    /// Every answer of every endpoint, in both formats, is one the OpenAPI document describes (path, method,
    /// status, content type and schema); the /docs page is self-contained.
    func testEveryAnswerOfEveryEndpointValidatesAgainstTheOpenAPIDocument() throws {
        let document = dir.appendingPathComponent("openapi.json")
        func validate(_ serve: ServeProcess, _ method: String, _ path: String, body: String? = nil, headers: [String] = [],
                      file: StaticString = #filePath, line: UInt = #line) throws -> HTTPAnswer {
            let answer = try http(serve, method, path, body: body, headers: headers)
            let type = answer.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }
                .map { $0.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces).split(separator: ";").first.map(String.init) ?? "" } ?? ""
            let route = String(path.split(separator: "?").first ?? "")
            let result = try runProcess("/usr/bin/env", ["python3", TestEnv.repo.appendingPathComponent("Tests/Support/openapi_check.py").path, document.path,
                                                         "--answer", route, method, String(answer.status), type], stdin: answer.body)
            XCTAssertEqual(result.status, 0, "\(method) \(path) \(answer.status) \(type): \(result.stderr) \(answer.body.prefix(300))", file: file, line: line)
            return answer
        }
        for format in ["gg", "gilgamesh"] {
            let serve = try self.serve(["--format", format, "--max-concurrent", "1", "--queue", "0"])
            if !FileManager.default.fileExists(atPath: document.path) {
                try http(serve, "GET", "/openapi.json").body.write(to: document, atomically: true, encoding: .utf8)
            }
            let good = server.url("/file/sign.png"), bad = server.url("/status/404")
            _ = try validate(serve, "POST", "/process", body: #"{"urls": ["\#(good)", "\#(bad)"], "engine": "sphinx"}"#)
            _ = try validate(serve, "POST", "/process", body: #"{"url": "\#(good)", "engine": "sphinx"}"#)
            _ = try validate(serve, "POST", "/process", body: #"{"url": "\#(bad)"}"#)
            _ = try validate(serve, "POST", "/process", body: #"{"url": "\#(server.url("/html"))"}"#)
            _ = try validate(serve, "POST", "/process", body: #"{"urls": ["\#(good)"], "engine": "sphinx"}"#, headers: ["Accept: application/x-ndjson"])
            for refused in ["not json", "{}", #"{"urls": []}"#, #"{"urls": [3]}"#, #"{"urls": ["file:///etc/passwd"]}"#, #"{"urls": ["\#(good)"], "threshold": 7}"#] {
                _ = try validate(serve, "POST", "/process", body: refused)
                _ = try validate(serve, "POST", "/process/batch", body: refused)
            }
            _ = try validate(serve, "POST", "/process/batch", body: #"{"urls": ["\#(good)", "\#(bad)"], "engine": "sphinx"}"#)
            _ = try validate(serve, "GET", "/cache/stats")
            _ = try validate(serve, "POST", "/cache/clear?older_than_hours=1")
            _ = try validate(serve, "POST", "/cache/clear?older_than_hours=soon")
            _ = try validate(serve, "POST", "/cache/clear")
            _ = try validate(serve, "POST", "/cleanup?clear_cache=true")
            _ = try validate(serve, "GET", "/health")
            _ = try validate(serve, "GET", "/ready")
            _ = try validate(serve, "GET", "/metrics")
            _ = try validate(serve, "GET", "/openapi.json")
            _ = try validate(serve, "OPTIONS", "/process", headers: ["Origin: https://app.example"])
            let docs = try validate(serve, "GET", "/docs")
            XCTAssertTrue(docs.body.contains("/process/batch") && docs.body.contains("GilgameshBatch"), "the page lists endpoints and schemas")
            XCTAssertFalse(docs.body.contains("<script") || docs.body.contains("https://"), "the page is self-contained")
            let slow = Process()
            slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            slow.arguments = ["-s", "-o", "/dev/null", serve.url + "/process", "-d", #"{"urls": ["\#(server.url("/slow/2000/sign.png"))"], "engine": "sphinx"}"#]
            try slow.run()
            usleep(800_000)
            _ = try validate(serve, "POST", "/process", body: #"{"urls": ["\#(good)"]}"#)
            slow.waitUntilExit()
        }
        let locked = try serve(environment: ["GG_API_TOKEN": "s3cret"])
        _ = try validate(locked, "GET", "/metrics")
        _ = try validate(locked, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))"]}"#)
        _ = try validate(locked, "GET", "/docs")
    }

    /// gg's own shape named kept files by server paths, which clients cannot use: a request that keeps its
    /// folder now gets an artefact URL per file, fetched with the same token, until /cleanup or --keep-ttl.
    func testKeptFilesAreArtefactURLsNotServerPaths() throws {
        let serve = try serve(environment: ["GG_API_TOKEN": "s3cret"])
        let auth = ["Authorization: Bearer s3cret"]
        let answer = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/captions.mp4"))", "\#(server.url("/file/poster.jpg"))"], "engine": "sphinx", "cleanup_temp": false}"#,
                              headers: auth)
        XCTAssertEqual(answer.status, 200, answer.body)
        XCTAssertFalse(answer.body.contains(serve.work.path), "no server path in the answer")
        let results = try answer.json()["results"] as? [[String: Any]] ?? []
        let keyframe = try XCTUnwrap(results.first?.array("videos").first?.array("scenes").first?.string("keyframe"))
        let image = try XCTUnwrap(results.last?.array("images").first?.string("path"))
        for url in [keyframe, image] {
            XCTAssertTrue(url.hasPrefix("/artefacts/"), url)
            let file = dir.appendingPathComponent("artefact")
            let fetched = try runProcess("/usr/bin/curl", ["-s", "-o", file.path, "-w", "%{http_code} %{content_type}", "-H", auth[0], serve.url + url])
            XCTAssertEqual(fetched.stdout, "200 image/jpeg", url)
            XCTAssertEqual((try? Data(contentsOf: file))?.prefix(2), Data([0xFF, 0xD8]), "a JPEG")
            XCTAssertEqual(try http(serve, "GET", url).status, 401, "the same token")
        }
        let id = keyframe.split(separator: "/")[1]
        XCTAssertEqual(try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", "-H", auth[0],
                                                        serve.url + "/artefacts/\(id)/../../etc/passwd"]).stdout, "404")
        XCTAssertEqual(try http(serve, "POST", "/cleanup", headers: auth).status, 200)
        XCTAssertEqual(try http(serve, "GET", keyframe, headers: auth).status, 404, "/cleanup removed the kept folder")
    }
}
