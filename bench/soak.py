#!/usr/bin/env python3
"""A soak of gg-serve (issue 33), loopback only: GG_SOAK_MINUTES (30) of mixed requests from GG_SOAK_CLIENTS
(20) clients, each from an address of its own (127.0.1.N), against the fault-injecting media server (/faulty/N: 500s, slow, truncated, big, text or
media): good ones, bad ones (refused URLs, bad JSON), ones whose client disconnects mid-request, and slow
ones that trickle their body. Every answered /process must hold one result per URL in order; afterwards
no stage process may be left, nothing under the work root, and gg-serve's descriptors and RSS, sampled
every 30 s, must stay flat (last third against the first third: descriptors equal, RSS within 16 MiB).
Prints the samples and a verdict; exits 1 on any failure."""
import http.client, json, os, random, shutil, socket, subprocess, sys, tempfile, threading, time
from common import BIN, ROOT, children, require_release

require_release()
FIXTURES = os.path.join(ROOT, ".fixtures")
MINUTES = float(os.environ.get("GG_SOAK_MINUTES", "30"))
CLIENTS = int(os.environ.get("GG_SOAK_CLIENTS", "20"))


def status_field(pid, name):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def main():
    subprocess.run([os.path.join(ROOT, "scripts", "make-fixtures")], check=True)
    media_server = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Support", "server.py"), "--root", FIXTURES,
                                     "--lifetime", str(MINUTES * 60 + 600)], stdout=subprocess.PIPE, text=True)
    media = f"http://127.0.0.1:{int(media_server.stdout.readline())}"
    scratch = tempfile.mkdtemp(prefix="gg-soak-")
    work = os.path.join(scratch, "work")
    serve = subprocess.Popen([os.path.join(BIN, "gg-serve"), "--listen", "127.0.0.1:0", "--work-dir", work, "--cache-dir", os.path.join(scratch, "cache"),
                              "--allow-host", "127.0.0.1:*", "--max-concurrent", "4", "--queue", "16", "--timeout", "20",
                              "--request-deadline", "5", "--cache-prune-interval", "60", "--log", "json"],
                             stderr=subprocess.PIPE, text=True)
    port = int(serve.stderr.readline().split("127.0.0.1:")[1].split(",")[0])
    threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    stop = time.time() + MINUTES * 60
    lock = threading.Lock()
    tally = {"answered": 0, "complete": 0, "lost_or_misordered": 0, "rejected_429": 0, "refused_4xx": 0, "disconnected": 0,
             "slow_body": 0, "errors": 0}
    failures = []

    def count(key, detail=None):
        with lock:
            tally[key] += 1
            if detail and len(failures) < 20:
                failures.append(detail)

    def post(source, body, timeout):
        """(status, parsed body or None) of one POST /process from the client's own address."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
        try:
            connection.request("POST", "/process", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            try:
                return response.status, json.loads(data)
            except ValueError:
                return response.status, None
        finally:
            connection.close()

    def good(rng, source):
        urls = [f"{media}/faulty/{rng.randrange(100000)}" for _ in range(rng.randint(1, 3))]
        try:
            status, answer = post(source, json.dumps({"urls": urls, "engine": "sphinx"}), 300)
            if status == 429:
                count("rejected_429")
                return
            if status != 200 or answer is None:
                count("errors", f"HTTP {status} for {urls}")
                return
            count("answered")
            results = answer["results"]
            if [r["url"] for r in results] == urls:
                count("complete")
            else:
                count("lost_or_misordered", f"{urls} -> {[r.get('url') for r in results]}")
        except Exception as error:
            count("errors", repr(error))

    def bad(rng, source):
        body = rng.choice(['{"urls": ["file:///etc/passwd"]}', "not json", '{"urls": ["http://a.example/x\\ny"]}', '{"urls": []}'])
        try:
            status, _ = post(source, body, 30)
            count("refused_4xx" if 400 <= status < 500 else "errors", None if 400 <= status < 500 else f"HTTP {status} for {body}")
        except Exception as error:
            count("errors", repr(error))

    def disconnecting(rng, source):
        body = json.dumps({"urls": [f"{media}/slow/{rng.randrange(1000, 8000)}/sign.png"]}).encode()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
            s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(rng.uniform(0.1, 3))
            s.close()
            count("disconnected")
        except OSError as error:
            count("errors", repr(error))

    def slow(rng, source):
        body = json.dumps({"urls": [f"{media}/faulty/{rng.randrange(100000)}"], "engine": "sphinx"}).encode()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
            s.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
            for byte in body:
                s.sendall(bytes([byte]))
                time.sleep(0.05)
            s.settimeout(300)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            s.close()
            head = data.split(b"\r\n")[0]
            count("slow_body" if head else "errors", None if head else "no answer to a slow body")
        except OSError:
            count("slow_body")

    def client(seed):
        rng = random.Random(seed)
        source = f"127.0.1.{seed + 1}"
        while time.time() < stop:
            kind = rng.choices([good, bad, disconnecting, slow], weights=[6, 2, 2, 1])[0]
            kind(rng, source)

    samples = []

    def sampler():
        while time.time() < stop:
            samples.append((round(time.time() - start), len(os.listdir(f"/proc/{serve.pid}/fd")), status_field(serve.pid, "VmRSS") // 1024,
                            status_field(serve.pid, "Threads")))
            time.sleep(30)

    start = time.time()
    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)] + [threading.Thread(target=sampler)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for _ in range(300):
        if not children(serve.pid) and not os.listdir(work):
            break
        time.sleep(0.2)
    time.sleep(1)
    samples.append((round(time.time() - start), len(os.listdir(f"/proc/{serve.pid}/fd")), status_field(serve.pid, "VmRSS") // 1024,
                    status_field(serve.pid, "Threads")))
    orphans = children(serve.pid)
    leftovers = os.listdir(work)
    serve.terminate()
    serve.wait(timeout=60)
    media_server.terminate()
    shutil.rmtree(scratch, ignore_errors=True)

    third = max(1, len(samples) // 3)
    first, last = samples[:third], samples[-third:]
    fd_flat = max(s[1] for s in last) <= max(s[1] for s in first)
    rss_flat = max(s[2] for s in last) - max(s[2] for s in first) <= 16
    print(f"gg-serve soak: {MINUTES:g} min, {CLIENTS} clients, loopback only")
    print("| seconds | descriptors | RSS MiB | threads |")
    print("| --- | --- | --- | --- |")
    for sample in samples:
        print("| " + " | ".join(str(v) for v in sample) + " |")
    print(json.dumps(tally))
    checks = [("no lost or misordered results", tally["lost_or_misordered"] == 0 and tally["complete"] == tally["answered"]),
              ("no unexpected errors", tally["errors"] == 0), ("no orphan processes", not orphans), ("no leftover files", not leftovers),
              ("descriptors flat", fd_flat), ("RSS flat (within 16 MiB)", rss_flat)]
    for name, ok in checks:
        print(f"{'pass' if ok else 'FAIL'}: {name}")
    for failure in failures:
        print("  " + failure)
    print(f"{sum(ok for _, ok in checks)} passed, {sum(not ok for _, ok in checks)} failed")
    return all(ok for _, ok in checks)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
