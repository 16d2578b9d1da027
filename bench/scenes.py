#!/usr/bin/env python3
"""gg-scenes vs PySceneDetect (content detector) and the `ffmpeg -f null` decode floor on the
same generated video with known cuts (every fourth scene has a one-frame white flash, every
fourth a fast pan: neither is a cut). Prints seconds, frames/s, ratios, F1, and gg-scenes' peak
memory on a short and a 4x longer input (flat memory)."""
import json, os, subprocess, sys, time
from common import OUT, BIN, FONT, READ, ffmpeg, best_of, row, peak_rss, require_release, cut_f1, pyscenedetect_cuts

require_release()
SOURCES = ["testsrc2", "smptehdbars", "rgbtestsrc", "cellauto", "yuvtestsrc", "life", "pal100bars", "testsrc"]
FPS = 25


def make_video(path, segments, size="1280x720"):
    if os.path.exists(path):
        return
    inputs, durations = [], []
    for i in range(segments):
        d = 2.0 + (i * 7 % 5)
        src = SOURCES[i % len(SOURCES)]
        extra = ":rule=30" if src == "cellauto" else ":mold=10:life_color=#00ff00" if src == "life" else ""
        base = f"{src}=size={size}:rate={FPS}{extra}"
        if i % 4 == 1:
            base += ",drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(n,20)'"
        if i % 4 == 3:
            w, h = size.split("x")
            base = (f"testsrc2=size={int(w) * 3}x{int(h) * 2}:rate={FPS},crop=w={w}:h={h}:"
                    "x='(iw-ow)/2*(1+sin(t*3))':y='(ih-oh)/2*(1+cos(t*2))'")
        inputs += ["-f", "lavfi", "-i", f"{base},trim=duration={d},setpts=PTS-STARTPTS,"
                   f"drawtext=fontfile={FONT}:text='Scene {i}':fontsize=48:fontcolor=white:x=40+t*60:y=40,format=yuv420p"]
        durations.append(d)
    chain = "".join(f"[{i}:v]" for i in range(segments)) + f"concat=n={segments}:v=1:a=0[v]"
    ffmpeg(*inputs, "-filter_complex", chain, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "250", path)
    with open(path + ".cuts.json", "w") as f:
        cuts, t = [], 0.0
        for d in durations[:-1]:
            t += d
            cuts.append(round(t, 3))
        json.dump(cuts, f)


def f1(found, truth):
    return cut_f1(found, truth, 2.5 / FPS)


def gg_cuts(path, work, extra=()):
    record = json.dumps({"id": "bench", "url": path, "items": [{"index": 0, "type": "video", "path": path}]})
    cmd = [os.path.join(BIN, "gg-scenes"), "--work-dir", work, "--jobs", "1", *READ, *extra]
    seconds, proc = best_of(3, cmd, input=record)
    scenes = json.loads(proc.stdout)["items"][0]["scenes"]
    return seconds, [s["start"] for s in scenes[1:]], cmd, record


def frames(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", path], capture_output=True, text=True).stdout
    return int(out.strip())


video = os.path.join(OUT, "scenes-720p-v3.mp4")
long_video = os.path.join(OUT, "scenes-720p-v3-long.mp4")
make_video(video, 16)
make_video(long_video, 64)
truth = json.load(open(video + ".cuts.json"))
n = frames(video)
floor, _ = best_of(3, ["ffmpeg", "-nostdin", "-v", "error", "-i", video, "-f", "null", "-"])
gg_s, gg_found, cmd, record = gg_cuts(video, os.path.join(OUT, "work"))
full_s, full_found, _, _ = gg_cuts(video, os.path.join(OUT, "work"), ["--deblock", "all"])
fast_s, fast_found, _, _ = gg_cuts(video, os.path.join(OUT, "work"), ["--deblock", "none"])
psd_s, psd_found = pyscenedetect_cuts(video)
mkv = os.path.join(OUT, "scenes-720p-v3.mkv")
if not os.path.exists(mkv):
    ffmpeg("-i", video, "-c", "copy", mkv)
mkv_s, mkv_found, _, _ = gg_cuts(mkv, os.path.join(OUT, "work"))

print(f"input: {video} ({n} frames, {len(truth)} cuts), 2 cores")
row("", "seconds", "frames/s", "F1")
row("ffmpeg -f null (decode floor)", f"{floor:.2f}", f"{n / floor:.0f}", "-")
row("gg-scenes", f"{gg_s:.2f}", f"{n / gg_s:.0f}", f"{f1(gg_found, truth):.3f}")
row("gg-scenes --deblock all", f"{full_s:.2f}", f"{n / full_s:.0f}", f"{f1(full_found, truth):.3f}")
row("gg-scenes --deblock none", f"{fast_s:.2f}", f"{n / fast_s:.0f}", f"{f1(fast_found, truth):.3f}")
row("gg-scenes, Matroska remux", f"{mkv_s:.2f}", f"{n / mkv_s:.0f}", f"{f1(mkv_found, truth):.3f}")
if psd_s is not None:
    row("PySceneDetect ContentDetector", f"{psd_s:.2f}", f"{n / psd_s:.0f}", f"{f1(psd_found, truth):.3f}")
print()
print(f"gg-scenes time / decode floor:      {gg_s / floor:.2f}x   (target <= 1.2)")
if psd_s is not None:
    print(f"PySceneDetect time / gg-scenes:     {psd_s / gg_s:.2f}x   (target >= 1.5)")
    print(f"PySceneDetect time / Matroska:      {psd_s / mkv_s:.2f}x")
    print(f"PySceneDetect time / --deblock all: {psd_s / full_s:.2f}x")
    print(f"PySceneDetect time / --deblock none: {psd_s / fast_s:.2f}x")
    print(f"F1 gg-scenes - PySceneDetect:       {f1(gg_found, truth) - f1(psd_found, truth):+.3f}  (target >= 0)")
else:
    print("PySceneDetect not installed: pip install scenedetect-headless")
short_rss = peak_rss(cmd, input=record)
long_record = record.replace(video, long_video)
long_rss = peak_rss(cmd, input=long_record)
print(f"gg-scenes peak RSS: {short_rss:.0f} MiB on {n} frames, {long_rss:.0f} MiB on {frames(long_video)} frames (flat memory)")
