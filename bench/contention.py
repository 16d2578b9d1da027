#!/usr/bin/env python3
"""Transcription beside a busy process, and what start-up and model load add to a one-URL request.

1. Contention: a 30 s speech clip (pocketsphinx-testdata's LibriVox recordings) transcribed by gg-transcribe
   (whisper base, 8-bit) and by faster-whisper on the same base weights (int8, beam 5, 2 threads), first on a
   quiet machine, then beside one process spinning on a core for the whole run. Best of 3 each; the ratio
   busy / quiet is the number to keep within 1.5.
2. Start-up: a 30 s reel (the same speech under a captioned test pattern) through pipelines/run.sh, which
   runs the stages gg-serve spawns for a request, against the cost of starting each stage on empty input and
   of gg-transcribe loading the model (a 1 s silent clip: the model loads, nothing is decoded).
usage: bench/contention.py"""
import json, os, subprocess, sys, time
from common import OUT, BIN, ROOT, READ, ffmpeg, require_release

require_release()
work = os.path.join(OUT, "contention")
os.makedirs(work, exist_ok=True)
MODELS = os.path.join(ROOT, ".whisper", "models")
clip = os.path.join(work, "speech30.wav")
reel = os.path.join(work, "reel30.mp4")
silence = os.path.join(work, "silence1.wav")
librivox = "/usr/share/pocketsphinx/test/data/librivox"
parts = sorted(f for f in os.listdir(librivox) if f.endswith(".wav"))
inputs = sum((["-i", os.path.join(librivox, f)] for f in parts), [])
ffmpeg(*inputs, "-filter_complex", "".join(f"[{i}:a]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1,atrim=0:30",
       "-ar", "16000", "-ac", "1", clip)
ffmpeg("-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=30:duration=30,drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf:"
       "text='HOW TO READ A NOVEL':fontsize=56:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-300",
       "-i", clip, "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", reel)
ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "1", silence)

FW = """
import sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=2)
segments, info = model.transcribe(sys.argv[2], beam_size=5)
print(" ".join(s.text for s in segments))
"""


def seconds(cmd, **kw):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode not in (0, 65):
        sys.exit(f"{cmd[0]} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - start


def best(cmd, runs=3, **kw):
    return min(seconds(cmd, **kw) for _ in range(runs))


def record(path, kind="audio"):
    return json.dumps({"id": "c", "url": "x", "items": [{"index": 0, "type": kind, "path": path}]})


gg = [os.path.join(BIN, "gg-transcribe"), "--work-dir", os.path.join(work, "w"), *READ, "--allow-root", OUT]
peers = [("gg-transcribe base", lambda: best(gg, input=record(clip)))]
try:
    import faster_whisper  # noqa: F401
    peers.append(("faster-whisper base", lambda: best([sys.executable, "-c", FW, os.path.join(MODELS, "base"), clip])))
except ImportError:
    print("faster-whisper is not installed (pip install faster-whisper): gg only")

print("1. a 30 s clip, best of 3, 2 cores")
print(f"{'':<24}{'quiet s':>10}{'busy s':>10}{'busy/quiet':>12}")
for name, run in peers:
    quiet = run()
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        busy = run()
    finally:
        spinner.kill()
    print(f"{name:<24}{quiet:>10.2f}{busy:>10.2f}{busy / quiet:>12.2f}")

print("\n2. a one-URL request for a 30 s reel (pipelines/run.sh: the stages gg-serve spawns), best of 3")
urls = os.path.join(work, "urls.txt")
with open(urls, "w") as f:
    f.write(reel + "\n")
request = best([os.path.join(ROOT, "pipelines", "run.sh"), "--work-dir", os.path.join(work, "run"), "--bin", BIN, urls])
starts = sum(best([os.path.join(BIN, tool), "--work-dir", os.path.join(work, "w")], runs=5, input="")
             for tool in ("gg-fetch", "gg-scenes", "gg-ocr", "gg-transcribe", "gg-assemble"))
load = best(gg, runs=5, input=record(silence)) - best([os.path.join(BIN, "gg-transcribe"), "--work-dir", os.path.join(work, "w")], runs=5, input="")
print(f"request {request:.2f} s; five stage starts {starts:.2f} s; model load {load:.2f} s; "
      f"start and load together {(starts + load) / request:.1%} of the request")
