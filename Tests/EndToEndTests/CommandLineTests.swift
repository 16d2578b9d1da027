import Foundation
import XCTest

/// The command line as users meet it: help and verbosity, URL lists, progress, run.sh's options,
/// parallel-stage.sh's statuses and retries, the Makefile's graph and `make retry`, and scale-out over ssh.
final class CommandLineTests: XCTestCase {
    var dir: URL!
    var work: URL!

    static let stages = ["gg-fetch", "gg-scenes", "gg-ocr", "gg-transcribe", "gg-assemble"]

    override func setUpWithError() throws {
        try TestEnv.ensureFixtures()
        dir = TestEnv.temporaryDirectory()
        work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    func script(_ name: String) -> String { TestEnv.repo.appendingPathComponent("pipelines/\(name)").path }

    func write(_ name: String, _ lines: [String]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `-h` was read as a file name ("cannot open -h", exit 66).
    func testShortOptionsOnEveryTool() throws {
        for name in CommandLineTests.stages + ["gg-serve"] {
            let help = try tool(name, ["-h"])
            XCTAssertEqual(help.status, 0, name)
            XCTAssertTrue(help.stdout.hasPrefix("usage: \(name)") && help.stdout.contains("Examples:") && help.stdout.contains("-q, --quiet"), name)
            XCTAssertEqual(try tool(name, ["-q", "-v"]).status, 64, "\(name): -q and -v contradict")
        }
        let quiet = try tool("gg-fetch", ["-q", "--work-dir", work.path, "--no-cache"], stdin: "https://www.youtube.com/feed/x\n")
        XCTAssertEqual(quiet.stderr, "gg-fetch: <stdin>:1: error: unsupported_url: not a YouTube video or short: https://www.youtube.com/feed/x\n", "-q keeps errors only")
    }

    /// gg-scenes' ablation switch and settings listing: an unknown rule is a usage error naming the rules, and
    /// --print-settings shows the rules left on, then exits without reading input.
    func testSceneRulesCanBeTurnedOffAndListed() throws {
        let unknown = try tool("gg-scenes", ["--without-rules", "flash,bogus"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.stderr.contains("flash, faint, two-frame, title-card, dissolve, wipe, replacement, sweep"), unknown.stderr)
        let listed = try tool("gg-scenes", ["--without-rules", "wipe,sweep", "--print-settings"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("rules = dissolve,faint,flash,replacement,title-card,two-frame\n"), listed.stdout)
    }

    /// gg-ocr --print-settings shows the options' values and the reader's fixed settings by group, then exits
    /// without reading input.
    func testOCRSettingsAreListed() throws {
        let listed = try tool("gg-ocr", ["--budget", "2", "--lang", "deu", "--print-settings"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        for line in ["lang = deu", "budget.secondsPerMegapixel = 2.0", "lines.brightGlyphs = 190...255", "marks.maxAbove = 0.45",
                     "rendering.glyphPixels = 40.0", "passes.confidentWord = 80.0", "scripts.maxReads = 40"] {
            XCTAssertTrue(listed.stdout.contains(line + "\n"), "\(line) in \(listed.stdout)")
        }
        XCTAssertFalse(listed.stdout.contains("SettingsGroup"), listed.stdout)
    }

    /// `# comment` and blank lines became error results; `file.mp4` was refused while `./file.mp4` worked;
    /// `--cache-stats --cache-clear` silently did only the first.
    func testURLListsTakeCommentsBlankLinesAndRelativePaths() throws {
        let urls = ["# my clips", "", "sign.png", "   # indented comment", "missing.png", "sign.png"]
        let result = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path, "--no-cache", "--allow-root", TestEnv.fixtures.path],
                              stdin: urls.joined(separator: "\n") + "\n", directory: TestEnv.fixtures)
        let records = try result.records()
        XCTAssertEqual(records.count, 3, result.stdout)
        XCTAssertNil(records[0].errorKind)
        XCTAssertEqual(records[1].errorKind, "no_input")
        XCTAssertTrue(result.stderr.contains("<stdin>:5: error: no_input"), "the original line: \(result.stderr)")
        XCTAssertEqual(records[2].string("id"), (records[0].string("id") ?? "") + "-L6", "a repeated URL's id names its line")
        let refused = try tool("gg-fetch", ["--work-dir", work.path, "--no-cache"], stdin: "sign.png\n", directory: TestEnv.fixtures)
        XCTAssertEqual(try refused.records()[0].errorKind, "unsupported_url")
        let both = try tool("gg-fetch", ["--cache-dir", dir.appendingPathComponent("cache").path, "--cache-stats", "--cache-clear"])
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.stderr.contains("cannot be combined"), both.stderr)
    }

    /// Nothing was shown until the end; progress never touches stdout.
    func testProgressOnStandardErrorOnly() throws {
        let list = try write("urls.txt", [TestEnv.fixture("sign.png"), TestEnv.fixture("talk.mp4")])
        let plain = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path, "--no-cache", list])
        let shown = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path, "--no-cache", "--progress", list])
        XCTAssertEqual(shown.stdout, plain.stdout)
        XCTAssertEqual(plain.stderr, "", "no progress when stderr is not a terminal and --progress is not given")
        XCTAssertTrue(shown.stderr.contains("gg-fetch: 2/2 done"), shown.stderr)
        let quiet = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path, "--no-cache", "--progress", "-q", list])
        XCTAssertEqual(quiet.stderr, "")
        let file = dir.appendingPathComponent("progress").path
        let scenes = try tool("gg-scenes", ["--work-dir", work.path], stdin: plain.stdout, environment: ["GG_PROGRESS_FILE": file, "GG_PROGRESS_TOTAL": "2"])
        XCTAssertEqual(scenes.status, 0, scenes.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "gg-scenes: 2/2 done\n")
    }

    /// run.sh had no --version, passed few stage options through, and printed "gg: 1/0 results" for stdin.
    func testRunShVersionPassThroughAndProgress() throws {
        let version = try runProcess(script("run.sh"), ["--version", "--bin", TestEnv.products.path])
        XCTAssertEqual(version.status, 0)
        for name in CommandLineTests.stages { XCTAssertTrue(version.stdout.contains("  \(name) "), version.stdout) }
        let run = { (arguments: [String], environment: [String: String]) in
            try runProcess(self.script("run.sh"), ["--bin", TestEnv.products.path, "--engine", "sphinx"] + arguments + ["-"],
                           stdin: "# one clip\n\(TestEnv.fixture("cuts.mp4"))\n", environment: environment)
        }
        let cuts = { (output: ProcessOutput) in try output.records().first?.array("videos").first?.array("scenes").count }
        XCTAssertEqual(try cuts(try run([], [:])), 3)
        XCTAssertEqual(try cuts(try run(["--scenes-opts", "--threshold 0.98 --min-scene-len 1"], [:])), 1)
        let viaEnvironment = try run(["--progress"], ["GG_SCENES_OPTS": "--threshold 0.98"])
        XCTAssertEqual(try cuts(viaEnvironment), 1)
        XCTAssertTrue(viaEnvironment.stderr.contains("fetch: 1/1 done | scenes: 1/1 done | ocr: 1/1 done | transcribe: 1/1 done | assemble: 1/1 done"),
                      viaEnvironment.stderr)
        XCTAssertFalse(viaEnvironment.stdout.contains("done"))
        XCTAssertEqual(try runProcess(script("run.sh"), ["--scenes-opts"]).status, 64)
    }

    /// parallel-stage.sh exited 1 where the stage exited 65, ran a bad-data record three times, and
    /// numbered error lines per chunk.
    func testParallelStageKeepsStatusesLineNumbersAndIdsOfASerialRun() throws {
        let help = try runProcess(script("parallel-stage.sh"), ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("GG_RETRIES"))
        let server = try TestServer()
        let urls = [server.url("/file/sign.png"), "", server.url("/status/404"), "# a comment", server.url("/file/sign.png"),
                    server.url("/slow/2000/poster.jpg")]
        let list = try write("urls.txt", urls)
        let options = ["--work-dir", work.path, "--no-cache", "--retries", "0", "--download-timeout", "0.5"]
        let parallel = try runProcess("/bin/sh", ["-c", "\"$0\" gg-fetch \"$@\" < \(list)", script("parallel-stage.sh")] + options,
                                      environment: ["GG_BIN": TestEnv.products.path, "GG_RECORDS_PER_JOB": "1"])
        let serial = try runProcess(TestEnv.tool("gg-fetch"), options + [list])
        XCTAssertEqual(parallel.stdout, serial.stdout, "chunks give the lines (ids included) of a serial run")
        XCTAssertEqual(parallel.status, 65, "bad data (65) outranks retry later (75), as in the stage: \(parallel.stderr)")
        XCTAssertEqual(serial.status, 65)
        XCTAssertTrue(parallel.stderr.contains("<stdin>:3: error: http_error"), parallel.stderr)
        XCTAssertTrue(parallel.stderr.contains("<stdin>:6: error: timeout"), parallel.stderr)
        let counts = try server.requestCounts()
        XCTAssertEqual(counts["/status/404"], 2, "once by each run: bad data is never retried")
        XCTAssertEqual(counts["/slow/2000/poster.jpg"], 4, "3 attempts of the retryable chunk, 1 serial")
        XCTAssertTrue(parallel.stdout.contains("-L5\""), "the repeated URL's id names its line in the whole input")
    }

    /// `make -n` listed every stage and `make -q` said out of date after a full run; an OCR option reran
    /// whisper; a rerun did not retry the URLs that had failed with 75.
    func testMakefileFollowsTheDataAndRetriesRetryableURLs() throws {
        let server = try TestServer()
        let list = try write("urls.txt", [TestEnv.fixture("talk.mp4"), "# comment", server.url("/flaky/make/1/sign.png"), TestEnv.fixture("sign.png")])
        let workDir = dir.appendingPathComponent("make")
        var arguments = ["-f", script("Makefile"), "URLS=\(list)", "WORK=\(workDir.path)", "BIN=\(TestEnv.products.path)",
                         "FETCH_OPTS=--allow-local --no-cache --retries 0", "TRANSCRIBE_OPTS=--engine sphinx"]
        let first = try runProcess("/usr/bin/make", arguments)
        XCTAssertEqual(first.status, 2, "records failed: \(first.stderr)")
        XCTAssertTrue(first.stderr.contains("pipeline: exit status 75"), first.stderr)
        XCTAssertEqual(try String(contentsOf: workDir.appendingPathComponent("status"), encoding: .utf8), "75\n")
        XCTAssertEqual(try runProcess("/usr/bin/make", ["-q"] + arguments).status, 0, "make -q: up to date")
        XCTAssertEqual(try runProcess("/usr/bin/make", ["-n"] + arguments).stdout.contains("gg-"), false, "make -n: nothing to run")
        let transcribed = try FileManager.default.attributesOfItem(atPath: workDir.appendingPathComponent("transcribe.ndjson").path)[.modificationDate] as? Date
        arguments.append("OCR_OPTS=--min-confidence 50")
        let planned = try runProcess("/usr/bin/make", ["-n"] + arguments).stdout
        XCTAssertTrue(planned.contains("gg-ocr") && planned.contains("gg-assemble"), planned)
        XCTAssertFalse(planned.contains("gg-transcribe") || planned.contains("gg-scenes") || planned.contains("gg-fetch"), planned)
        _ = try runProcess("/usr/bin/make", arguments)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: workDir.appendingPathComponent("transcribe.ndjson").path)[.modificationDate] as? Date,
                       transcribed, "an OCR option does not rerun transcription")
        let before = try ProcessOutput(status: 0, stdout: String(contentsOf: workDir.appendingPathComponent("assemble.ndjson"), encoding: .utf8), stderr: "").records()
        XCTAssertEqual(before.map { $0.string("status") }, ["success", "error", "success"])
        let retried = try runProcess("/usr/bin/make", arguments + ["retry"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertTrue(retried.stderr.contains("retry: 1 URL(s) with retryable errors"), retried.stderr)
        let after = try ProcessOutput(status: 0, stdout: String(contentsOf: workDir.appendingPathComponent("assemble.ndjson"), encoding: .utf8), stderr: "").records()
        XCTAssertEqual(after.map { $0.string("status") }, ["success", "success", "success"])
        XCTAssertEqual(after[0].string("url"), before[0].string("url"))
        XCTAssertEqual(after[2].string("id"), before[2].string("id"))
        XCTAssertEqual(try server.requestCounts()["/flaky/make/1/sign.png"], 2, "only the retryable URL ran again")
        XCTAssertEqual(try String(contentsOf: workDir.appendingPathComponent("status"), encoding: .utf8), "0\n")
        XCTAssertEqual(try runProcess("/usr/bin/make", ["-q"] + arguments).status, 0)
    }

    /// `GG_HOSTS` had never run across two hosts: two sshd on 127.0.0.1 share this machine's file system.
    func testParallelStageAcrossTwoSSHHosts() throws {
        let sshd = "/usr/sbin/sshd"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: sshd), "openssh-server is not installed (scripts/setup installs it)")
        guard FileManager.default.isExecutableFile(atPath: sshd) else { return }
        let keys = dir.appendingPathComponent("ssh")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        for name in ["host_key", "user_key"] {
            XCTAssertEqual(try runProcess("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keys.appendingPathComponent(name).path]).status, 0)
        }
        try FileManager.default.copyItem(at: keys.appendingPathComponent("user_key.pub"), to: keys.appendingPathComponent("authorized_keys"))
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        var hosts = [String]()
        var pids = [String]()
        defer { for pid in pids { kill(pid_t(pid) ?? 0, SIGTERM) } }
        for _ in 0..<2 {
            let port = try freePort()
            let config = keys.appendingPathComponent("sshd-\(port).conf")
            try """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(keys.path)/host_key
            AuthorizedKeysFile \(keys.path)/authorized_keys
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            PermitRootLogin prohibit-password
            StrictModes no
            PidFile \(keys.path)/sshd-\(port).pid
            LogLevel VERBOSE

            """.write(to: config, atomically: true, encoding: .utf8)
            let started = try runProcess(sshd, ["-f", config.path, "-E", keys.appendingPathComponent("log-\(port)").path])
            XCTAssertEqual(started.status, 0, started.stderr)
            for _ in 0..<50 where !FileManager.default.fileExists(atPath: "\(keys.path)/sshd-\(port).pid") { usleep(100_000) }
            pids.append(try String(contentsOfFile: "\(keys.path)/sshd-\(port).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
            hosts.append("1/ssh -p \(port) -i \(keys.path)/user_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR \(NSUserName())@127.0.0.1")
        }
        let fetched = try tool("gg-fetch", ["--allow-local", "--work-dir", work.path, "--no-cache"],
                               stdin: ["cuts.mp4", "sign.png", "talk.mp4", "cuts.mp4", "dup.mp4", "noaudio.mp4"].map(TestEnv.fixture).joined(separator: "\n") + "\n")
        let fetchedFile = try write("fetched.ndjson", [fetched.stdout.trimmingCharacters(in: .newlines)])
        let serial = try runProcess(TestEnv.tool("gg-scenes"), ["--work-dir", work.path, fetchedFile])
        let spread = try runProcess("/bin/sh", ["-c", "\"$0\" gg-scenes --work-dir \"$1\" < \"$2\"", script("parallel-stage.sh"), work.path, fetchedFile],
                                    environment: ["GG_BIN": TestEnv.products.path, "GG_HOSTS": hosts.joined(separator: ","), "GG_PARALLEL_JOBS": "1"])
        XCTAssertEqual(spread.status, 0, spread.stderr)
        XCTAssertEqual(spread.stdout, serial.stdout, "the same lines, byte for byte, as one process on one host")
        for log in try FileManager.default.contentsOfDirectory(atPath: keys.path) where log.hasPrefix("log-") {
            let text = try String(contentsOfFile: keys.appendingPathComponent(log).path, encoding: .utf8)
            XCTAssertTrue(text.contains("Accepted publickey"), "host \(log) ran no chunk")
        }
    }

    func freePort() throws -> Int {
        let output = try runProcess("/usr/bin/env", ["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])
        return Int(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}
