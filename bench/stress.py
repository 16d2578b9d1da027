#!/usr/bin/env python3
"""Reliability suite (loopback only, bounded in time): load with injected faults through the whole
pipeline, killing a stage mid-run and rerunning, and two pipelines sharing one cache. Prints a
summary table; exits 1 if any check fails. `--attacks` runs the hostile inputs instead (bench/attacks.py)
with each one's outcome and peak RSS."""
import collections, json, os, shutil, signal, subprocess, sys, tempfile, time
from common import OUT, BIN, ROOT, require_release

require_release()
if "--attacks" in sys.argv:
    import attacks
    attacks.main()
FIXTURES = os.path.join(ROOT, ".fixtures")
subprocess.run([os.path.join(ROOT, "scripts", "make-fixtures")], check=True)
N = int(os.environ.get("GG_STRESS_URLS", "1000"))
checks = []


def check(name, ok, detail):
    checks.append((name, "pass" if ok else "FAIL", detail))


def stage(name, *args):
    return [os.path.join(BIN, name), *args]


server = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Support", "server.py"), "--root", FIXTURES, "--lifetime", "1200"],
                          stdout=subprocess.PIPE, text=True)
port = int(server.stdout.readline())
base = f"http://127.0.0.1:{port}"
scratch = tempfile.mkdtemp(prefix="gg-stress-")
try:
    # 1. Load: N URLs, 10% HTTP 500, 5% slower than the timeout, 5% truncated, 2% oversize, 5% not media.
    urls = [f"{base}/faulty/{n}" for n in range(N)]
    url_file = os.path.join(scratch, "urls.txt")
    open(url_file, "w").write("\n".join(urls) + "\n")
    work, cache = os.path.join(scratch, "work"), os.path.join(scratch, "cache")
    common = ["--work-dir", work, "--jobs", "8"]
    rss = {n: os.path.join(scratch, f"{n}.rss") for n in ["fetch", "scenes", "ocr", "transcribe", "assemble"]}
    timed = lambda n, args: ["/usr/bin/time", "-f", "%M", "-o", rss[n], *stage(f"gg-{n}", *common, *args)]
    start = time.time()
    fetch = subprocess.Popen(timed("fetch", ["--cache-dir", cache, "--download-timeout", "1", "--retries", "1", "--retry-delay", "0.05",
                                              "--max-bytes", "2000000", url_file]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    scenes = subprocess.Popen(timed("scenes", []), stdin=fetch.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ocr = subprocess.Popen(timed("ocr", ["--jobs", "2"]), stdin=scenes.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    asr = subprocess.Popen(timed("transcribe", ["--jobs", "2"]), stdin=ocr.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = subprocess.run(timed("assemble", ["--cleanup"]), stdin=asr.stdout, capture_output=True, text=True)
    statuses = [p.wait() for p in (fetch, scenes, ocr, asr)] + [out.returncode]
    elapsed = time.time() - start
    results = [json.loads(l) for l in out.stdout.splitlines()]
    check("records out = records in", len(results) == N and [r["url"] for r in results] == urls, f"{len(results)} of {N}, in order")
    kinds = collections.Counter(r["status"] if r["status"] == "success" else r["error"]["kind"] for r in results)
    typed = all(r["status"] == "success" or (r.get("error") or {}).get("kind") for r in results)
    check("each result a success or a typed error", typed, ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    expected = collections.Counter()
    for n in range(N):
        r = n % 100
        expected["http_error" if r < 10 else "timeout" if r < 15 else "network" if r < 20 else "too_large" if r < 22 else "not_media" if r < 27 else "success"] += 1
    check("faults classified as injected", kinds == expected, f"expected {dict(expected)}")
    counts = json.loads(subprocess.run(["curl", "-s", f"{base}/stats"], capture_output=True, text=True).stdout)
    attempts = collections.Counter(counts.get(f"/faulty/{n}") for n in range(N) if n % 100 < 10)
    retried = set(attempts) == {2}
    retryable = all(r["error"]["retryable"] for r in results if r["status"] == "error" and r["error"]["kind"] in ("http_error", "timeout", "network"))
    check("transient failures retried, then marked retryable", retried and retryable, f"attempts per HTTP 500 URL: {dict(attempts)} (--retries 1)")
    peaks = {n: int(open(p).read().split()[-1]) // 1024 for n, p in rss.items()}
    check("stage exit statuses", statuses[0] in (65, 75) and statuses[1:] == [0, 0, 0, 0], f"{statuses} in {elapsed:.0f} s")
    left = [os.path.join(d, f) for d, _, fs in os.walk(work) for f in fs]
    temp = os.listdir(os.path.join(cache, "tmp")) if os.path.isdir(os.path.join(cache, "tmp")) else []
    check("nothing left after --cleanup", not left and not temp, f"work files {len(left)}, cache temp files {len(temp)}")

    # 2. Kill gg-fetch mid-run (SIGKILL, then SIGTERM) and rerun over the same cache and work root.
    media = [f"{base}/slow/30/{name}?k={n}" for n in range(120) for name in [["cuts.mp4", "poster.jpg", "sign.png", "talk.mp4"][n % 4]]]
    kill_file = os.path.join(scratch, "kill.txt")
    open(kill_file, "w").write("\n".join(media) + "\n")
    kwork, kcache = os.path.join(scratch, "kwork"), os.path.join(scratch, "kcache")
    reference = subprocess.run(stage("gg-fetch", "--work-dir", os.path.join(scratch, "ref"), "--no-cache", "--jobs", "4", kill_file), capture_output=True, text=True).stdout
    for sig in (signal.SIGKILL, signal.SIGTERM):
        p = subprocess.Popen(stage("gg-fetch", "--work-dir", kwork, "--cache-dir", kcache, "--jobs", "4", kill_file), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.8)
        p.send_signal(sig)
        p.wait()
    rerun = subprocess.run(stage("gg-fetch", "--work-dir", kwork, "--cache-dir", kcache, "--jobs", "4", kill_file), capture_output=True, text=True)
    strip = lambda text: [{**r, "items": [{k: v for k, v in i.items() if k != "path"} for i in r.get("items", [])]} for r in map(json.loads, text.splitlines())]
    same = strip(rerun.stdout) == strip(reference)
    intact = all(open(i["path"], "rb").read() == open(os.path.join(FIXTURES, i["source_url"].split("/")[-1].split("?")[0]), "rb").read()
                 for r in map(json.loads, rerun.stdout.splitlines()) for i in r["items"])
    stats = json.loads(subprocess.run(stage("gg-fetch", "--cache-dir", kcache, "--cache-stats"), capture_output=True, text=True).stdout)
    check("killed mid-run, rerun identical", rerun.returncode == 0 and same and intact,
          f"{len(media)} downloads, every file intact, cache {stats['entries']} entries")

    # 3. Two pipelines sharing one cache directory at once.
    shared = os.path.join(scratch, "shared-cache")
    procs = [subprocess.Popen(f"'{BIN}/gg-fetch' --work-dir '{scratch}/w{i}' --cache-dir '{shared}' --jobs 4 '{kill_file}' | "
                              f"'{BIN}/gg-scenes' --work-dir '{scratch}/w{i}' > '{scratch}/p{i}.ndjson'", shell=True) for i in (1, 2)]
    codes = [p.wait() for p in procs]
    outs = [open(f"{scratch}/p{i}.ndjson").read().replace(f"{scratch}/w{i}", "WORK") for i in (1, 2)]
    stats = json.loads(subprocess.run(stage("gg-fetch", "--cache-dir", shared, "--cache-stats"), capture_output=True, text=True).stdout)
    check("two pipelines, one cache", codes == [0, 0] and outs[0] == outs[1] and len(outs[0].splitlines()) == len(media) and stats["entries"] == len(media),
          f"{len(media)} URLs each, {stats['entries']} cache entries, identical output")
finally:
    server.terminate()
    shutil.rmtree(scratch, ignore_errors=True)

print(f"gg reliability suite: {N} URLs, loopback only")
print(f"| {'check':<44} | {'result':<6} | detail")
print(f"|{'-' * 46}|{'-' * 8}|{'-' * 40}")
for name, result, detail in checks:
    print(f"| {name:<44} | {result:<6} | {detail}")
print("peak RSS per stage (MiB): " + ", ".join(f"{n} {v}" for n, v in peaks.items()))
print(f"{sum(c[1] == 'pass' for c in checks)} passed, {sum(c[1] != 'pass' for c in checks)} failed")
sys.exit(0 if all(c[1] == "pass" for c in checks) else 1)
