#!/usr/bin/env python3
"""The whole job, gg against the obvious Python glue of its peers, on one generated media set served
from 127.0.0.1: videos with hard cuts, a caption per scene (boxed, outlined, shadowed; 16:9 and phone
9:16) and espeak-ng speech (clean, under steady noise, under a music-like chord), plus caption stills.

gg: `pipelines/run.sh URLS` (gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble).
Glue (bench/peer_glue.py, one process per URL as the old service ran it): yt-dlp downloads, PySceneDetect's
ContentDetector cuts, the middle frame of each scene goes to the tesseract CLI, faster-whisper (base,
int8, its default beam 5) transcribes. Run one URL at a time and two at a time (xargs -P2).

Prints the time ratio, scene F1, OCR word recall and WER side by side, worst URL beside the mean."""
import http.server, json, os, re, shutil, subprocess, sys, tempfile, threading, time
from common import OUT, BIN, FONT, ROOT, ffmpeg, row, require_release, cut_f1, wer

require_release()
HERE = os.path.dirname(os.path.abspath(__file__))
MEDIA = os.path.join(OUT, "e2e")
os.makedirs(MEDIA, exist_ok=True)
FPS = 25
BACKGROUNDS = ["testsrc2", "cellauto=rule=110:seed=5", "smptehdbars", "color=c=0x336699", "life=mold=10:ratio=0.3:seed=7",
               "gradients=seed=3:c0=0x2a4d8f:c1=0xe8b04a", "color=c=0x8a8a8a", "rgbtestsrc"]
STYLES = ["fontcolor=white:box=1:boxborderw=10:boxcolor=black@0.6", "fontcolor=white:borderw=6:bordercolor=black",
          "fontcolor=yellow:borderw=4:bordercolor=black", "fontcolor=white:shadowx=3:shadowy=3:shadowcolor=black",
          "fontcolor=black:box=1:boxcolor=white:boxborderw=10"]
CAPTIONS = ["WELCOME BACK", "THREE EASY STEPS", "WATCH THIS", "BEST VIEW IN TOWN", "DAY ONE", "SAVE FOR LATER",
            "HOW IT STARTED", "FOLLOW FOR MORE", "THE SECRET SAUCE", "WAIT FOR IT", "FINAL RESULT", "NEW RECIPE"]
SPEECH = ["The market opens early on Saturday and closes at noon.",
          "Please remember to bring a reusable bag and some cash.",
          "We tested three different cameras on the same mountain trail.",
          "The river was higher than usual after the spring rain.",
          "Add the onions first and stir until they turn golden.",
          "Our team finished the project two weeks ahead of schedule."]
BEDS = ["", "anoisesrc=color=pink:amplitude=0.08:sample_rate=16000:seed=7:duration={d}",
        "aevalsrc=0.08*sin(2*PI*220*t)+0.08*sin(2*PI*277*t)+0.08*sin(2*PI*330*t)*(1+sin(2*PI*2*t))/2:s=16000:d={d}", ""]


def make_video(n):
    path = os.path.join(MEDIA, f"video-{n}.mp4")
    truth_path = path + ".json"
    if os.path.exists(truth_path):
        return path, json.load(open(truth_path))
    size = "720x1280" if n % 3 == 2 else "1280x720"
    scenes = 3 + n % 2
    inputs, captions, cuts, t = [], [], [], 0.0
    for s in range(scenes):
        k = n * 4 + s
        duration = 2.4 + (k * 7 % 5) * 0.4
        name, _, opts = BACKGROUNDS[k % len(BACKGROUNDS)].partition("=")
        caption = CAPTIONS[k % len(CAPTIONS)]
        fontsize = 44 if size == "720x1280" else 52
        inputs += ["-f", "lavfi", "-i", f"{name}=size={size}:rate={FPS}" + (f":{opts}" if opts else "") +
                   f",trim=duration={duration},setpts=PTS-STARTPTS,drawtext=fontfile={FONT}:text='{caption}':"
                   f"fontsize={fontsize}:{STYLES[k % len(STYLES)]}:x=(w-tw)/2:y=h*0.7,format=yuv420p"]
        captions.append(caption)
        t += duration
        cuts.append(round(t, 3))
    total = cuts.pop()
    sentence = SPEECH[n % len(SPEECH)]
    speech = os.path.join(MEDIA, f"speech-{n}.wav")
    subprocess.run(["espeak-ng", "-s", "150", "-w", speech, sentence], check=True)
    audio = f"[{scenes}:a]aresample=16000,adelay=700|700,apad,atrim=0:{total}[speech]"
    bed = BEDS[n % len(BEDS)]
    if bed:
        inputs += ["-i", speech, "-f", "lavfi", "-i", bed.format(d=total)]
        audio += f";[speech][{scenes + 1}:a]amix=inputs=2:normalize=0[a]"
    else:
        inputs += ["-i", speech]
        audio += ";[speech]anull[a]"
    chain = "".join(f"[{i}:v]" for i in range(scenes)) + f"concat=n={scenes}:v=1:a=0[v];" + audio
    ffmpeg(*inputs, "-filter_complex", chain, "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "23", "-g", "250", "-c:a", "aac", "-b:a", "96k", "-t", str(total), path)
    truth = {"cuts": cuts, "captions": captions, "speech": sentence}
    json.dump(truth, open(truth_path, "w"))
    return path, truth


def make_still(n):
    path = os.path.join(MEDIA, f"still-{n}.jpg")
    caption = CAPTIONS[(n * 5 + 3) % len(CAPTIONS)]
    if not os.path.exists(path):
        name, _, opts = BACKGROUNDS[(n * 3 + 1) % len(BACKGROUNDS)].partition("=")
        ffmpeg("-f", "lavfi", "-i", f"{name}=size=1080x1350" + (f":{opts}" if opts else ""), "-vf",
               f"drawtext=fontfile={FONT}:text='{caption}':fontsize=64:{STYLES[(n + 1) % len(STYLES)]}:x=(w-tw)/2:y=h*0.4",
               "-frames:v", "1", "-q:v", "3", path)
    return path, {"cuts": None, "captions": [caption], "speech": None}


def recall(text, captions):
    found = set(re.findall(r"[A-Z0-9]+", text.upper()))
    wanted = [w for c in captions for w in c.split()]
    return sum(w in found for w in wanted) / len(wanted)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=MEDIA, **kw)

    def log_message(self, *a):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that closes early (a probe reading only the header) is not news


media = [make_video(n) for n in range(6)] + [make_still(n) for n in range(2)]
server = QuietServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
urls = [f"http://127.0.0.1:{server.server_port}/{os.path.basename(p)}" for p, _ in media]
truths = [t for _, t in media]
scratch = tempfile.mkdtemp(prefix="gg-e2e-")
url_file = os.path.join(scratch, "urls.txt")
open(url_file, "w").write("\n".join(urls) + "\n")


def gg():
    work = os.path.join(scratch, "gg-work")
    shutil.rmtree(work, ignore_errors=True)
    cache = os.path.join(scratch, "gg-cache")
    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run([os.path.join(ROOT, "pipelines", "run.sh"), "-q", "--work-dir", work, "--cache-dir", cache, url_file],
                          capture_output=True, text=True, env=dict(os.environ, GG_BIN=BIN))
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"pipelines/run.sh failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = []
    for line in proc.stdout.splitlines():
        r = json.loads(line)
        video = (r.get("videos") or [{}])[0]
        scenes = video.get("scenes") or []
        text = " ".join([s.get("text") or "" for s in scenes] + [i.get("text") or "" for i in r.get("images") or []])
        transcript = video.get("transcript") or {}
        out.append({"cuts": [s["start"] for s in scenes[1:]], "text": text, "transcript": transcript.get("text", "")})
    return seconds, out


def glue(parallel):
    folder = os.path.join(scratch, f"glue-{parallel}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    start = time.perf_counter()
    subprocess.run(["xargs", f"-P{parallel}", "-n1", sys.executable, os.path.join(HERE, "peer_glue.py"), folder],
                   input="\n".join(urls), text=True, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    out = []
    for url in urls:
        with open(os.path.join(folder, re.sub(r"[^A-Za-z0-9.-]", "_", url) + ".json")) as f:
            out.append(json.load(f))
    return seconds, out


def scores(results):
    f1s = [cut_f1(r["cuts"], t["cuts"], 0.2) for r, t in zip(results, truths) if t["cuts"] is not None]
    recalls = [recall(r["text"], t["captions"]) for r, t in zip(results, truths)]
    wers = [wer(t["speech"], r["transcript"]) for r, t in zip(results, truths) if t["speech"]]
    return f1s, recalls, wers


print(f"input: {len(media)} URLs from 127.0.0.1 ({sum(1 for t in truths if t['cuts'] is not None)} videos of 3-4 scenes, "
      f"{sum(1 for t in truths if t['cuts'] is None)} stills), 2 cores, release build")
runs = [("gg (pipelines/run.sh)", gg()), ("python glue, one URL at a time", glue(1)), ("python glue, xargs -P2", glue(2))]
row("", "seconds", "scene F1", "worst F1", "OCR recall", "worst", "WER", "worst WER")
for name, (seconds, results) in runs:
    f1s, recalls, wers = scores(results)
    row(name, f"{seconds:.2f}", f"{sum(f1s) / len(f1s):.3f}", f"{min(f1s):.3f}", f"{sum(recalls) / len(recalls):.3f}",
        f"{min(recalls):.3f}", f"{sum(wers) / len(wers):.3f}", f"{max(wers):.3f}")
print("\nper URL: scene F1 / OCR recall / WER")
print(f"{'URL':<16}{'gg':>24}{'python glue':>24}")
for n, url in enumerate(urls):
    cells = []
    for _, (_, results) in runs[:2]:
        t, r = truths[n], results[n]
        f1 = f"{cut_f1(r['cuts'], t['cuts'], 0.2):.2f}" if t["cuts"] is not None else "-"
        w = f"{wer(t['speech'], r['transcript']):.2f}" if t["speech"] else "-"
        cells.append(f"{f1} / {recall(r['text'], t['captions']):.2f} / {w}")
    print(f"{os.path.basename(url):<16}" + "".join(f"{c:>24}" for c in cells))
gg_s = runs[0][1][0]
print(f"\ntime: glue one at a time / gg {runs[1][1][0] / gg_s:.2f}x, glue -P2 / gg {runs[2][1][0] / gg_s:.2f}x  (target >= 3)")
server.shutdown()
shutil.rmtree(scratch, ignore_errors=True)
