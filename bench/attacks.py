"""The hostile inputs of issue 13, each run through the stage it targets, with its outcome, time and
peak RSS (the process and the children it waited for, such as yt-dlp), then the HTTP attacks on gg-serve
of issue 33 (bench/http_attacks.py). Run by `bench/stress.py --attacks`."""
import json, os, shutil, subprocess, sys, tempfile, time
from common import BIN, ROOT

FIXTURES = os.path.join(ROOT, ".fixtures")


def run(cmd, stdin="", cwd=None):
    """(outcome kinds, seconds, peak RSS MiB, exit status) of one stage run under GNU time."""
    report = tempfile.mktemp()
    start = time.time()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report, *cmd], input=stdin, capture_output=True, text=True, cwd=cwd)
    seconds = time.time() - start
    peak = int(open(report).read().split()[-1]) / 1024
    os.unlink(report)
    kinds = []
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        items = record.get("items") or []
        error = record.get("error") or next((i["error"] for i in items if i.get("error")), None)
        kinds.append(error["kind"] if error else "ok" + (" (" + "; ".join(record["warnings"]) + ")" if record.get("warnings") else ""))
    return kinds, seconds, peak, proc.returncode


def main():
    subprocess.run([os.path.join(ROOT, "scripts", "make-fixtures")], check=True)
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Support", "server.py"), "--root", FIXTURES, "--lifetime", "600"],
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    base = f"http://127.0.0.1:{port}"
    scratch = tempfile.mkdtemp(prefix="gg-attacks-")
    work = os.path.join(scratch, "work")
    os.makedirs(work)
    fetch = [os.path.join(BIN, "gg-fetch"), "--work-dir", work, "--no-cache", "--retries", "0"]
    rows = []
    try:
        def attack(name, stage, cmd, stdin="", cwd=None, expect=None):
            kinds, seconds, peak, status = run(cmd, stdin, cwd)
            ok = expect(kinds) if expect else True
            rows.append((name, stage, ", ".join(kinds) or "-", f"{seconds:.1f}", f"{peak:.0f}", status, "pass" if ok else "FAIL"))

        attack("gzip body of 64 MB of zeros", "gg-fetch", fetch, f"{base}/gzbomb/64\n", expect=lambda k: k == ["not_media"])
        attack("endless page to yt-dlp's second fetch", "gg-fetch + yt-dlp", fetch + ["--resolver-timeout", "30"], f"{base}/ua-split/talk.mp4\n",
               expect=lambda k: len(k) == 1 and k[0] != "ok")
        attack("17 MB og:description", "gg-fetch + yt-dlp", fetch, f"{base}/huge-description/17/noaudio.mp4\n",
               expect=lambda k: len(k) == 1 and k[0].startswith("ok (description truncated"))
        attack("redirect to [::1], --deny-private", "gg-fetch", fetch + ["--deny-private", "--allow-host", "127.0.0.1:*"],
               f"{base}/redirect-to/[::1]:{port}/sign.png\n", expect=lambda k: k == ["forbidden_address"])
        attack("redirect to 169.254.169.254, --deny-private", "gg-fetch", fetch + ["--deny-private", "--allow-host", "127.0.0.1:*"],
               f"{base}/redirect-to/169.254.169.254/sign.png\n", expect=lambda k: k == ["forbidden_address"])
        attack("two 8000x8000 frames (pixel bomb)", "gg-fetch", fetch + ["--allow-local"], os.path.join(FIXTURES, "pixelbomb.avi") + "\n",
               expect=lambda k: k == ["too_many_pixels"])
        for name in ("pixelbomb.avi", "onehertz.wav", "onehertz.flac"):
            shutil.copy(os.path.join(FIXTURES, name), work)
        item = lambda name, kind: json.dumps({"id": "a", "url": "a", "items": [{"index": 0, "type": kind, "path": os.path.join(work, name)}]}) + "\n"
        attack("two 8000x8000 frames (pixel bomb)", "gg-scenes", [os.path.join(BIN, "gg-scenes"), "--work-dir", work], item("pixelbomb.avi", "video"),
               expect=lambda k: k == ["too_many_pixels"])
        for name in ("onehertz.wav", "onehertz.flac"):
            attack(f"150 KB {name.split('.')[1].upper()} claiming 1 Hz", "gg-fetch", fetch + ["--allow-local"], os.path.join(FIXTURES, name) + "\n",
                   expect=lambda k: k == ["bad_media"])
            attack(f"150 KB {name.split('.')[1].upper()} claiming 1 Hz", "gg-transcribe", [os.path.join(BIN, "gg-transcribe"), "--work-dir", work, "--engine", "sphinx"],
                   item(name, "audio"), expect=lambda k: k == ["bad_media"])
        cwd = os.path.join(scratch, "cwd")
        os.makedirs(cwd)
        marker = os.path.join(scratch, "exec-ran")
        open(os.path.join(cwd, "yt-dlp.conf"), "w").write(f'--no-simulate\n--exec "touch {marker}"\n')
        attack("yt-dlp.conf with --exec in the working directory", "gg-fetch + yt-dlp", fetch, f"{base}/page/talk.mp4\n", cwd=cwd,
               expect=lambda k: k == ["ok"] and not os.path.exists(marker) and os.listdir(cwd) == ["yt-dlp.conf"])
        secret = os.path.join(scratch, "secret.txt")
        attack("JSON record line in a URL list", "gg-fetch", fetch, json.dumps({"url": "x", "items": [{"index": 0, "type": "image", "path": secret}]}) + "\n",
               expect=lambda k: k == ["not_a_url"])
    finally:
        server.terminate()
        shutil.rmtree(scratch, ignore_errors=True)
    print("gg attack suite: loopback only")
    print("| attack | stage | outcome | seconds | peak RSS MiB | exit | check |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    import http_attacks
    http = http_attacks.main()
    passed = sum(r[-1] == "pass" for r in rows) + sum(r[-1] for r in http)
    failed = sum(r[-1] != "pass" for r in rows) + sum(not r[-1] for r in http)
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)
