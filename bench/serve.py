#!/usr/bin/env python3
"""gg-serve under load (loopback only, bounded): 200 requests from 20 concurrent clients with mixed good,
slow and failing URLs from the fault-injecting test server, --max-concurrent 4. Checks every request is
answered (200 or 429), every 200 is complete and in order, no stage process is left, nothing is left
under the work root; prints gg-serve's peak RSS, and the latency gg-serve adds over pipelines/run.sh on
the same single URL, and a repeated video request answered from the result cache against the first and
against /health. GG_SERVE_REQUESTS and GG_SERVE_CLIENTS change the load."""
import concurrent.futures, json, os, random, shutil, statistics, subprocess, sys, tempfile, time, urllib.error, urllib.request
import common
from common import BIN, ROOT, require_release

require_release()
FIXTURES = os.path.join(ROOT, ".fixtures")
subprocess.run([os.path.join(ROOT, "scripts", "make-fixtures")], check=True)
REQUESTS = int(os.environ.get("GG_SERVE_REQUESTS", "200"))
CLIENTS = int(os.environ.get("GG_SERVE_CLIENTS", "20"))
server = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Support", "server.py"), "--root", FIXTURES, "--lifetime", "1800"],
                          stdout=subprocess.PIPE, text=True)
media = f"http://127.0.0.1:{int(server.stdout.readline())}"
scratch = tempfile.mkdtemp(prefix="gg-serve-bench-")
work = os.path.join(scratch, "work")
serve = subprocess.Popen([os.path.join(BIN, "gg-serve"), "--listen", "127.0.0.1:0", "--work-dir", work, "--cache-dir", os.path.join(scratch, "cache"),
                          "--allow-host", "127.0.0.1:*", "--max-concurrent", "4", "--timeout", "20", "--log", "json",
                          "--max-connections-per-ip", "64"],
                         stderr=subprocess.PIPE, text=True)
line = serve.stderr.readline()
port = int(line.split("127.0.0.1:")[1].split(",")[0])
base = f"http://127.0.0.1:{port}"
checks = []


def post(urls, timeout=600, **extra):
    request = urllib.request.Request(base + "/process", data=json.dumps({"urls": urls, "engine": "sphinx", **extra}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers


def children():
    return common.children(serve.pid)


try:
    rng = random.Random(7)
    jobs = [[f"{media}/faulty/{rng.randrange(1000)}" for _ in range(rng.randint(1, 3))] for _ in range(REQUESTS)]
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(post, jobs))
    elapsed = time.time() - start
    statuses = [a[0] for a in answers]
    complete = all(a[0] != 200 or [r["url"] for r in a[1]["results"]] == urls for a, urls in zip(answers, jobs))
    retry_after = all(a[0] != 429 or a[2].get("Retry-After") for a in answers)
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    checks.append(("every request answered (200 or 429)", set(statuses) <= {200, 429}, f"{counts} in {elapsed:.0f} s"))
    checks.append(("every 200 complete and in order; 429s carry Retry-After", complete and retry_after, f"{statuses.count(200)} complete answers"))
    time.sleep(1)
    checks.append(("no stage process left", not children(), f"{len(children())} children of gg-serve"))
    left = [os.path.join(d, f) for d, _, fs in os.walk(work) for f in fs] + [d for d in os.listdir(work)]
    checks.append(("nothing left under the work root", not left, f"{len(left)} entries"))
    peak = [l for l in open(f"/proc/{serve.pid}/status") if l.startswith("VmHWM")][0].split()[1]

    # Latency the service adds over run.sh on one cached URL, medians of 15 runs each. Both run the whole
    # pipeline: the service keeps the request's folder (no result cache then), run.sh has none.
    single = f"{media}/file/sign.png"
    post([single], cleanup_temp=False)
    served, scripted = [], []
    urls_file = os.path.join(scratch, "one.txt")
    open(urls_file, "w").write(single + "\n")
    for _ in range(15):
        t = time.perf_counter(); post([single], cleanup_temp=False); served.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([os.path.join(ROOT, "pipelines", "run.sh"), "--bin", BIN, "--engine", "sphinx", "--cache-dir", os.path.join(scratch, "cache"),
                        "--cleanup", urls_file], capture_output=True, check=True)
        scripted.append(time.perf_counter() - t)
    added = (statistics.median(served) - statistics.median(scripted)) * 1000
    checks.append(("added latency over run.sh, median of 15", added < 30,
                   f"{added:.0f} ms (service {statistics.median(served) * 1000:.0f} ms, run.sh {statistics.median(scripted) * 1000:.0f} ms)"))
    urllib.request.urlopen(urllib.request.Request(base + "/cleanup", data=b"{}", headers={"Content-Type": "application/json"})).read()

    # A repeated request for a video, answered from the result cache (issue 34): its latency against the
    # first request's and against /health's, medians of 10.
    video = f"{media}/file/captions.mp4"
    t = time.perf_counter(); status, first_answer, _ = post([video]); first = time.perf_counter() - t
    hits, health = [], []
    for _ in range(10):
        t = time.perf_counter(); status, answer, _ = post([video]); hits.append(time.perf_counter() - t)
        marked = answer["results"][0].get("result_cache") == "hit"
        t = time.perf_counter(); urllib.request.urlopen(base + "/health").read(); health.append(time.perf_counter() - t)
    hit, alive = statistics.median(hits), statistics.median(health)
    checks.append(("repeated video request from the result cache", marked and hit < first / 4,
                   f"first {first * 1000:.0f} ms, hit {hit * 1000:.1f} ms ({hit / first:.4f}x the first), /health {alive * 1000:.1f} ms "
                   f"(a hit is {hit / alive:.1f}x /health)"))
finally:
    serve.terminate()
    serve.wait(timeout=60)
    server.terminate()
    shutil.rmtree(scratch, ignore_errors=True)

print(f"gg-serve load: {REQUESTS} requests from {CLIENTS} clients, --max-concurrent 4, loopback only")
print("| check | result | detail |")
print("| --- | --- | --- |")
for name, ok, detail in checks:
    print(f"| {name} | {'pass' if ok else 'FAIL'} | {detail} |")
print(f"peak RSS of gg-serve: {int(peak) // 1024} MiB")
sys.exit(0 if all(ok for _, ok, _ in checks) else 1)
