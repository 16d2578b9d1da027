#!/usr/bin/env python3
"""Start-up cost of each gg tool: a run on empty input (best of 10) and the shared libraries it loads,
beside the peers' own start (`tesseract --version`, `ffprobe -version`, `yt-dlp --version`). Start-up is
what a one-process-per-image or per-URL caller pays on every call."""
import os, subprocess, time
from common import BIN, ROOT, OUT, row, require_release

require_release()
work = os.path.join(OUT, "startup-work")


def best(cmd, runs=10, stdin=""):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, input=stdin, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    return min(times)


def libraries(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if "=>" in line or line.strip().startswith("/"))


row("command", "seconds", "libraries")
for tool in ["gg-fetch", "gg-scenes", "gg-ocr", "gg-transcribe", "gg-assemble", "gg-serve"]:
    path = os.path.join(BIN, tool)
    cmd = [path, "--help"] if tool == "gg-serve" else [path, "--work-dir", work]
    row(f"{tool} {'--help' if tool == 'gg-serve' else '< /dev/null'}", f"{best(cmd):.3f}", str(libraries(path)))
yt_dlp = os.path.join(ROOT, ".tools", "venv", "bin", "yt-dlp")
for name, cmd in [("tesseract --version", ["tesseract", "--version"]), ("ffprobe -version", ["ffprobe", "-version"]),
                  ("yt-dlp --version", [yt_dlp, "--version"])]:
    row(name, f"{best(cmd, runs=3 if 'yt-dlp' in name else 10):.3f}", "-")
