import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One test per finding of issue 33 (gg-serve and its children under attack), named after it.
final class ServeRegressionTests: ServeTestCase {

    /// Runs a Python client (`script`, with sys.argv[1] the port) and returns what it printed.
    func client(_ serve: ServeProcess, _ script: String, _ arguments: [String] = []) throws -> ProcessOutput {
        try runProcess("/usr/bin/env", ["python3", "-c", script, String(serve.port)] + arguments)
    }

    /// Open descriptors of the server process.
    func descriptors(_ serve: ServeProcess) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(serve.process.processIdentifier)/fd")) ?? []).count
    }

    /// A folder of the stage executables in which `gg-<stage>` first runs `prelude` (a shell snippet).
    func wrappedBin(_ stage: String, prelude: String) throws -> URL {
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for name in ["fetch", "scenes", "ocr", "transcribe", "assemble"] where name != stage {
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("gg-\(name)").path,
                                                       withDestinationPath: TestEnv.products.appendingPathComponent("gg-\(name)").path)
        }
        let wrapper = bin.appendingPathComponent("gg-\(stage)")
        try "#!/bin/sh\n\(prelude)\nexec \(TestEnv.products.appendingPathComponent("gg-\(stage)").path) \"$@\"\n".write(to: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper.path, 0o755)
        return bin
    }

    /// A request's work folder was removed after libmicrohttpd closed the answer, on another thread, so a client
    /// that had read the answer's end could still find it (testProcessKeepsOrderAndCountWithMixedURLs failed so
    /// while a fresh clone's benches shared the machine). It is removed before the answer's end is sent.
    func testRequestFolderIsGoneWhenTheAnswerEnds() throws {
        let serve = try serve()
        for _ in 0..<5 {
            let answer = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))"]}"#)
            XCTAssertEqual(answer.status, 200, answer.body)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: serve.work.path), [])
        }
    }

    /// 64 connections from one address trickling header lines held every slot, and each byte reset the
    /// idle timeout: /health was refused for as long as the client kept going.
    func testSlowClientsFromOneAddressDoNotLockOthersOut() throws {
        let serve = try serve(["--max-connections", "16", "--max-connections-per-ip", "4", "--request-deadline", "5"])
        let slowloris = """
        import socket, sys, time
        port = int(sys.argv[1])
        held = []
        for _ in range(16):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /health HTTP/1.1\\r\\nHost: x\\r\\n")
                held.append(s)
            except OSError:
                s.close()
        closed = 0
        for _ in range(60):
            for s in list(held):
                try:
                    s.sendall(b"X-a: b\\r\\n")
                    s.settimeout(0.05)
                    if s.recv(1024) == b"":
                        raise OSError
                except socket.timeout:
                    pass
                except OSError:
                    held.remove(s)
                    closed += 1
            if not held:
                break
            time.sleep(0.5)
        print(closed, len(held))
        """
        let python = Process()
        let output = Pipe()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", slowloris, String(serve.port)]
        python.standardOutput = output
        try python.run()
        usleep(500_000)
        let health = try runProcess("/usr/bin/curl", ["-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", serve.url + "/health"])
        XCTAssertEqual(health.stdout, "200", "another address's /health was locked out")
        python.waitUntilExit()
        let counts = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(counts.last, 0, "trickling connections outlived the request deadline: \(counts)")
        let metrics = try http(serve, "GET", "/metrics").body
        XCTAssertTrue(metrics.contains("gg_request_deadline_missed_total 4"), "one address held other than --max-connections-per-ip 4 connections: \(metrics)")
    }

    /// Every request path became a metrics label, unescaped: memory grew with each, and a `"` forged samples.
    func testUnknownPathsShareOneMetricsLabelAndAreEscapedInTheLog() throws {
        let serve = try serve()
        for index in 0..<20 { _ = try http(serve, "GET", "/random-\(index)") }
        _ = try http(serve, "GET", #"/inj%22x"#)
        _ = try client(serve, """
        import socket, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(b'GET /inj"},status="200"} 1 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
        s.recv(4096)
        """)
        let metrics = try http(serve, "GET", "/metrics").body
        XCTAssertTrue(metrics.contains(#"gg_requests_total{endpoint="other",status="404"} 22"#), metrics)
        XCTAssertFalse(metrics.contains("random") || metrics.contains("inj"), metrics)
        kill(serve.process.processIdentifier, SIGTERM)
        let log = serve.stderrAfterExit()
        XCTAssertTrue(log.contains("GET /inj%22},status=%22200%22}%201 404"), log)
        XCTAssertFalse(log.contains(#"/inj""#), log)
    }

    /// A newline inside one URL string passed the URL check and became several URLs (past --max-urls).
    func testNewlineInsideAURLIsRefused() throws {
        let serve = try serve()
        for bad in ["http://a.example/x.mp4\\nhttp://127.0.0.1:1/y.mp4", "http://a.example/x\\ty", "http://a.example/\\u0000", "http://a.example/x y"] {
            let answer = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))", "\#(bad)"]}"#)
            XCTAssertEqual(answer.status, 422, bad)
            XCTAssertEqual(try answer.json().string("field"), "urls[1]", bad)
        }
    }

    /// The result pipe's descriptor leaked for every request whose client went away.
    func testAbandonedRequestsLeaveNoDescriptorsOrFoldersBehind() throws {
        let serve = try serve()
        let disconnect = """
        import json, socket, sys, time
        body = json.dumps({"urls": [sys.argv[2]]}).encode()
        for _ in range(int(sys.argv[3])):
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"POST /process HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
            time.sleep(0.3)
            s.close()
        """
        func settled() -> Int {
            var count = descriptors(serve)
            for _ in 0..<100 where !serve.children().isEmpty || (try? FileManager.default.contentsOfDirectory(atPath: serve.work.path))?.isEmpty == false {
                usleep(100_000)
            }
            usleep(300_000)
            count = descriptors(serve)
            return count
        }
        _ = try client(serve, disconnect, [server.url("/slow/20000/sign.png"), "1"])
        let before = settled()
        _ = try client(serve, disconnect, [server.url("/slow/20000/sign.png"), "10"])
        XCTAssertEqual(settled(), before, "descriptors leaked (the first disconnect set up the thread pool's own)")
        XCTAssertEqual(serve.children(), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: serve.work.path), [])
        XCTAssertTrue(try http(serve, "GET", "/metrics").body.contains(#"gg_requests_total{endpoint="/process",status="499"} 11"#))
    }

    /// An empty --token-file silently turned authentication off.
    func testEmptyTokenFileIsRefused() throws {
        let file = dir.appendingPathComponent("token")
        try "\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try tool("gg-serve", ["--listen", "127.0.0.1:0", "--work-dir", dir.appendingPathComponent("w").path, "--token-file", file.path])
        XCTAssertEqual(result.status, 64, result.stderr)
        XCTAssertTrue(result.stderr.contains("empty"), result.stderr)
        let variable = try tool("gg-serve", ["--listen", "127.0.0.1:0", "--work-dir", dir.appendingPathComponent("w").path], environment: ["GG_API_TOKEN": " "])
        XCTAssertEqual(variable.status, 64, variable.stderr)
    }

    /// The image and compose listened on 0.0.0.0 with no token.
    func testListeningBeyondLoopbackNeedsAToken() throws {
        let refused = try runProcess("/usr/bin/env", ["-u", "GG_API_TOKEN", TestEnv.tool("gg-serve"), "--listen", "0.0.0.0:0", "--work-dir", dir.appendingPathComponent("w").path])
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--insecure-no-token"), refused.stderr)
        let serve = try ServeProcess(["--bin", TestEnv.products.path, "--listen", "0.0.0.0:0", "--insecure-no-token"], work: dir.appendingPathComponent("work"))
        XCTAssertEqual(try http(serve, "GET", "/health").status, 200)
    }

    /// Lower-case `bearer` was refused, HEAD /health was 401, and the token was checked only after the
    /// whole body had been read.
    func testTokenSchemeCaseHeadAndAuthBeforeTheBody() throws {
        let serve = try serve(environment: ["GG_API_TOKEN": "s3cret"])
        XCTAssertEqual(try http(serve, "GET", "/metrics", headers: ["Authorization: bearer s3cret"]).status, 200)
        XCTAssertEqual(try http(serve, "GET", "/metrics", headers: ["Authorization: BEARER s3cret"]).status, 200)
        XCTAssertEqual(try http(serve, "GET", "/metrics", headers: ["Authorization: Basic s3cret"]).status, 401)
        XCTAssertEqual(try runProcess("/usr/bin/curl", ["-s", "-I", "-o", "/dev/null", "-w", "%{http_code}", serve.url + "/health"]).stdout, "200")
        let early = try client(serve, """
        import socket, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.settimeout(30)
        s.sendall(b"POST /process HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: 1000000\\r\\n\\r\\n{")
        print(s.recv(4096).split(b"\\r\\n")[0].decode())
        """)
        XCTAssertEqual(early.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "HTTP/1.1 401 Unauthorized", early.stderr)
    }

    /// A client that shut its sending side after the request got 499 and an empty reply.
    func testHalfClosedClientGetsItsAnswer() throws {
        let serve = try serve()
        let answer = try client(serve, """
        import json, socket, sys
        body = json.dumps({"urls": [sys.argv[2]], "engine": "sphinx"}).encode()
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(b"POST /process HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        print(data.split(b"\\r\\n")[0].decode(), b"OPEN SOURCE VIDEO TOOLS" in data)
        """, [server.url("/slow/1000/sign.png")])
        XCTAssertEqual(answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "HTTP/1.1 200 OK True", answer.stderr)
    }

    /// Every unauthenticated /ready spawned `gg-transcribe --version` (60 calls: 45 at once).
    func testReadyIsComputedOnceForManyCalls() throws {
        let calls = dir.appendingPathComponent("calls")
        let bin = try wrappedBin("transcribe", prelude: "echo x >> \(calls.path)")
        let serve = try ServeProcess(["--bin", bin.path], work: dir.appendingPathComponent("work"))
        _ = try client(serve, """
        import sys, threading, urllib.request
        def ask():
            urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ready").read()
        threads = [threading.Thread(target=ask) for _ in range(20)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        """)
        XCTAssertEqual(try String(contentsOf: calls, encoding: .utf8).split(separator: "\n").count, 1)
    }

    /// A work root made first by someone else, writable by all, was used as is; request files were 0644.
    func testWorkRootWritableByOthersIsRefusedAndRequestFilesArePrivate() throws {
        let open = dir.appendingPathComponent("open")
        try FileManager.default.createDirectory(at: open, withIntermediateDirectories: true)
        chmod(open.path, 0o1777)
        let refused = try tool("gg-serve", ["--listen", "127.0.0.1:0", "--work-dir", open.path])
        XCTAssertEqual(refused.status, 74, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("may write to it"), refused.stderr)
        let serve = try serve()
        let answer = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/captions.mp4"))"], "engine": "sphinx", "cleanup_temp": false}"#)
        XCTAssertEqual(answer.status, 200, answer.body)
        var modes = [String: Int]()
        let enumerator = FileManager.default.enumerator(atPath: serve.work.path)
        while let name = enumerator?.nextObject() as? String {
            var info = stat()
            lstat(serve.work.appendingPathComponent(name).path, &info)
            modes[name] = Int(info.st_mode & 0o777)
        }
        XCTAssertFalse(modes.isEmpty)
        XCTAssertTrue(modes.allSatisfy { $0.value & 0o077 == 0 }, "\(modes)")
        var root = stat()
        lstat(serve.work.path, &root)
        XCTAssertEqual(root.st_mode & 0o777, 0o700)
    }

    /// Stages (and through them the resolvers) inherited gg-serve's whole environment, GG_API_TOKEN included.
    func testStagesGetNoSecretsFromTheServer() throws {
        let seen = dir.appendingPathComponent("env")
        let bin = try wrappedBin("fetch", prelude: "env > \(seen.path)")
        let serve = try ServeProcess(["--bin", bin.path, "--allow-host", "127.0.0.1:*"],
                                     environment: ["GG_API_TOKEN": "s3cret", "AWS_SECRET_ACCESS_KEY": "k", "LANG": "C.UTF-8"], work: dir.appendingPathComponent("work"))
        XCTAssertEqual(try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))"], "engine": "sphinx"}"#,
                                headers: ["Authorization: Bearer s3cret"]).status, 200)
        let environment = try String(contentsOf: seen, encoding: .utf8)
        XCTAssertFalse(environment.contains("s3cret") || environment.contains("AWS_SECRET"), environment)
        XCTAssertTrue(environment.contains("LANG=C.UTF-8"), environment)
    }

    /// Ambiguous framing (two Content-Length headers, or one with Transfer-Encoding) was accepted.
    func testAmbiguousFramingIsRefused() throws {
        let serve = try serve()
        let answers = try client(serve, """
        import socket, sys
        for head in [b"Content-Length: 2\\r\\nContent-Length: 40\\r\\n", b"Content-Length: 2\\r\\nTransfer-Encoding: chunked\\r\\n"]:
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"POST /process HTTP/1.1\\r\\nHost: x\\r\\n" + head + b"\\r\\n{}")
            print(s.recv(4096).split(b"\\r\\n")[0].decode())
        """)
        XCTAssertEqual(answers.lines, ["HTTP/1.1 400 Bad Request", "HTTP/1.1 400 Bad Request"], answers.stderr)
    }

    /// A threshold of 0 or 1 was refused (JSON's 0 and 1 read as booleans), and "ñé" passed as a language.
    func testThresholdBoundsAreNumbersAndLanguagesAreASCIICodes() throws {
        let serve = try serve()
        for (extra, status) in [(#""threshold": 0"#, 200), (#""threshold": 1"#, 200), (#""threshold": true"#, 422),
                                (#""encode_base64": 1"#, 422), (#""language": "ñé""#, 422)] {
            let answer = try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))"], "engine": "sphinx", \#(extra)}"#)
            XCTAssertEqual(answer.status, status, extra + ": " + answer.body)
        }
    }

    /// Twelve large base64 results were held whole and parsed again for the old shape: 781 MiB. Results
    /// now stream through in chunks, so the server's peak memory stays flat however large they are.
    func testLargeBase64ResultsStreamThroughBoundedMemory() throws {
        let serve = try serve()
        let urls = (0..<4).map { server.url("/file/joindissolve.mp4?copy=\($0)") }
        let list = String(decoding: try JSONSerialization.data(withJSONObject: urls, options: [.withoutEscapingSlashes]), as: UTF8.self)
        let answer = try http(serve, "POST", "/process?format=gilgamesh", body: #"{"urls": \#(list), "encode_base64": true, "engine": "sphinx"}"#)
        XCTAssertEqual(answer.status, 200)
        let results = try answer.json()["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.count, 4)
        let payload = answer.body.utf8.count
        let status = try String(contentsOfFile: "/proc/\(serve.process.processIdentifier)/status", encoding: .utf8)
        let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        XCTAssertGreaterThan(payload, 20 << 20, "the answer should be large enough to tell")
        XCTAssertLessThan(peak * 1024, 64 << 20, "gg-serve's peak RSS \(peak) KiB for a \(payload)-byte answer")
    }

    /// The cache was pruned only on demand and nothing told an operator the disk was filling: gg-serve now
    /// prunes it every --cache-prune-interval and reports both caches and the free space in /metrics.
    func testServerPrunesTheCacheAndReportsItInMetrics() throws {
        let serve = try serve(["--cache-prune-interval", "1", "--cache-max-bytes", "1048576"])
        XCTAssertEqual(try http(serve, "POST", "/process", body: #"{"urls": ["\#(server.url("/file/sign.png"))"], "engine": "sphinx"}"#).status, 200)
        var metrics = ""
        for _ in 0..<100 {
            metrics = try http(serve, "GET", "/metrics").body
            if metrics.contains(#"gg_cache_entries{cache="media"} 1"#) { break }
            usleep(200_000)
        }
        XCTAssertTrue(metrics.contains(#"gg_cache_entries{cache="media"} 1"#), metrics)
        XCTAssertTrue(metrics.contains("gg_cache_max_bytes 1048576"), metrics)
        XCTAssertTrue(metrics.contains("gg_cache_free_bytes "), metrics)
        XCTAssertTrue(metrics.contains(#"gg_cache_bytes{cache="resolved"} 0"#), metrics)
    }

    /// A thread per connection: idle and waiting connections each held a thread. The pool serves them all
    /// with a fixed number, and a request queued for a slot waits without one, then runs.
    func testIdleAndQueuedConnectionsHoldNoThreads() throws {
        let serve = try serve(["--threads", "2", "--max-concurrent", "1", "--queue", "4"])
        XCTAssertEqual(try http(serve, "GET", "/health").status, 200)
        let threads = { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(serve.process.processIdentifier)/task")) ?? []).count }
        let before = threads()
        let answers = try client(serve, """
        import json, socket, sys, threading, time, urllib.request
        port = int(sys.argv[1])
        idle = []
        for host in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]:
            for _ in range(8):
                s = socket.socket()
                s.bind((host, 0))
                s.connect(("127.0.0.1", port))
                idle.append(s)
        def post(url, out):
            body = json.dumps({"urls": [url], "engine": "sphinx"}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/process", data=body, headers={"Content-Type": "application/json"})
            out.append(json.load(urllib.request.urlopen(request, timeout=120))["results"][0]["status"])
        results = [[], []]
        first = threading.Thread(target=post, args=(sys.argv[2], results[0]))
        first.start()
        time.sleep(0.5)
        second = threading.Thread(target=post, args=(sys.argv[3], results[1]))
        second.start()
        time.sleep(1)
        print(len(idle), open(f"/proc/{sys.argv[4]}/status").read().split("Threads:")[1].split()[0], flush=True)
        first.join(); second.join()
        print(results[0][0], results[1][0])
        """, [server.url("/slow/3000/sign.png"), server.url("/file/sign.png"), String(serve.process.processIdentifier)])
        let lines = answers.lines
        XCTAssertEqual(lines.last, "success success", answers.stderr)
        let during = Int(lines.first?.split(separator: " ").last ?? "") ?? 0
        XCTAssertLessThanOrEqual(during, before + 6, "32 idle connections and a queued request took threads: \(before) -> \(during)")
    }
}
