#!/usr/bin/env python3
"""gg-fetch vs the curl CLI downloading the same 50 MB video from a loopback server, gg-fetch answering
the same URL from its cache, and the YouTube-style DASH case (separate video and audio streams, merged)
against yt-dlp alone with its defaults."""
import json, os, shutil, subprocess, sys, tempfile, time
from common import OUT, BIN, ffmpeg, best_of, timed, row, require_release, ROOT

require_release()
video = os.path.join(OUT, "fetch-50mb.mp4")
if not os.path.exists(video):
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=26", "-c:v", "libx264", "-preset", "ultrafast",
           "-b:v", "20M", "-maxrate", "20M", "-bufsize", "40M", video)
size = os.path.getsize(video)
server = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Support", "server.py"), "--root", OUT, "--lifetime", "300"],
                          stdout=subprocess.PIPE, text=True)
try:
    port = int(server.stdout.readline())
    url = f"http://127.0.0.1:{port}/file/{os.path.basename(video)}"
    scratch = tempfile.mkdtemp()
    curl_s, _ = best_of(5, ["curl", "-s", "-o", os.path.join(scratch, "curl.mp4"), url])
    fetch = [os.path.join(BIN, "gg-fetch"), "--work-dir", os.path.join(scratch, "work"), "--no-cache"]
    gg_s, proc = best_of(5, fetch, input=url + "\n")
    assert json.loads(proc.stdout).get("items"), proc.stdout
    cache = os.path.join(scratch, "cache")
    cached = [os.path.join(BIN, "gg-fetch"), "--work-dir", os.path.join(scratch, "work2"), "--cache-dir", cache]
    subprocess.run(cached, input=url + "\n", capture_output=True, text=True, check=True)
    hit_s, proc = best_of(5, cached, input=url + "\n")
    print(f"input: {size / 1e6:.1f} MB MP4 from a loopback HTTP server (Python), best of 5")
    row("", "seconds", "MB/s")
    row("curl -o FILE URL", f"{curl_s:.3f}", f"{size / 1e6 / curl_s:.0f}")
    row("gg-fetch (download + probe)", f"{gg_s:.3f}", f"{size / 1e6 / gg_s:.0f}")
    row("gg-fetch (cache hit + probe)", f"{hit_s:.3f}", "-")
    print()
    print(f"gg-fetch time / curl time:          {gg_s / curl_s:.2f}x")
    print(f"cache hit time / download time:     {hit_s / gg_s:.3f}x")

    dash = os.path.join(OUT, "dash-bench")
    if not os.path.exists(os.path.join(dash, "manifest.mpd")):
        os.makedirs(dash, exist_ok=True)
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=30", "-f", "lavfi", "-i", "sine=frequency=500:duration=30",
               "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-g", "50", "-c:a", "aac", "-map", "0:v", "-map", "1:a",
               "-f", "dash", "-seg_duration", "4", "-adaptation_sets", "id=0,streams=v id=1,streams=a", os.path.join(dash, "manifest.mpd"))
    manifest = f"http://127.0.0.1:{port}/tree/dash-bench/manifest.mpd"
    ytdlp = os.path.join(ROOT, ".tools", "venv", "bin", "yt-dlp")
    runs = []
    for n in range(3):
        out = os.path.join(scratch, f"yt{n}")
        runs.append(timed([ytdlp, "--ignore-config", "-q", "-o", os.path.join(out, "%(id)s.%(ext)s"), manifest])[0])
    yt_s = min(runs)
    gg_dash = [os.path.join(BIN, "gg-fetch"), "--work-dir", os.path.join(scratch, "work3"), "--no-cache"]
    dash_s, proc = best_of(3, gg_dash, input=manifest + "\n")
    item = json.loads(proc.stdout)["items"][0]
    assert item["has_audio"] and item["height"] == 720, item
    print()
    print("input: 30 s 720p DASH (video and audio adaptation sets) from the same server, best of 3")
    row("", "seconds")
    row("yt-dlp URL (its defaults)", f"{yt_s:.3f}")
    row("gg-fetch (-J, --load-info-json)", f"{dash_s:.3f}")
    print(f"gg-fetch time / yt-dlp time (DASH): {dash_s / yt_s:.2f}x  (worst yt-dlp run {max(runs):.3f} s)")
    shutil.rmtree(scratch)
finally:
    server.terminate()
