#!/usr/bin/env python3
"""Both gg-scenes detectors and PySceneDetect's content detector (its default) on a varied generated
video: hard cuts, a low-contrast cut between two greys under one caption, dissolves of 0.5-1.5 s,
fades through black, a wipe, and inside scenes white flashes of 1, 2 and 3 frames, a 2-frame black
flash, a fast pan, a zoom, camera shake and film grain (none of which is a cut); the "moving" set has
transitions between scenes that all move; the "phone" set is portrait 720x1280 at 30 fps, 4:2:0 from the
start, with outlined reel captions and short transitions.

A gradual transition is matched by a boundary anywhere within it (plus 2.5 frames); a keyframe
taken inside a transition (a blend of two scenes) is counted as a miss of its own. Prints seconds,
ratios, F1 and the keyframes inside transitions for each detector, per transition kind. With --yuv420, the
same videos re-encoded in 4:2:0.

With --seeds A-B[,C-D] (the main use): one video per seed, drawn at random from it (geometry, frame rate,
chroma format, 9-13 scenes of test patterns, rotating gradients, automata, fractals, flat colours and title
cards, moved by pans, zooms and shake, changed by grain, light and hue drifts and flashes, captions that hold,
move or appear; joined by hard cuts, low-contrast cuts under one caption and 23 kinds of transition). Prints
F1 per seed for gg-scenes and PySceneDetect, times against the decode floor (ffmpeg -threads 2 to null), and
the mean and worst. --ablation reruns gg-scenes with each detector test turned off (--without-rules);
--runs N times each tool best of N (default 1); --no-psd skips PySceneDetect; --verbose lists misses and
false cuts. Tune on some seeds; report on seeds drawn after the change."""
import json, os, random, statistics, subprocess, sys
from common import OUT, BIN, FONT, READ, ffmpeg, best_of, row, require_release, pyscenedetect_cuts, seed_list, span_score

require_release()
FPS = 25
W, H = 1280, 720
PW, PH, PFPS = 720, 1280, 30


def caption(text, moving=True):
    x = "40+t*50" if moving else "(w-tw)/2"
    return (f"drawtext=fontfile={FONT}:text='{text}':fontsize=56:fontcolor=white:"
            f"bordercolor=black:borderw=3:x={x}:y=h-120")


def big_caption(text, start, end):
    """A reel caption: large white words with a thick black outline, shown from `start` to `end` seconds."""
    return (f"drawtext=fontfile={FONT}:text='{text}':fontsize=96:fontcolor=white:bordercolor=black:borderw=6:"
            f"x=(w-tw)/2:y=h*0.62:enable='between(t,{start},{end})'")


def flash(colour, first, frames):
    return f"drawbox=x=0:y=0:w=iw:h=ih:color={colour}:t=fill:enable='between(n,{first},{first + frames - 1})'"


# Three sets: "tuned" is the one the gradual-transition test was tuned on; "held-out" was made after
# the tuning, with other sources, seeds, transition kinds and motions, to see how it generalises;
# "unseen" (below) after the replacement test.
# Each: scenes (name, source chain, seconds) and how scene k ends and k+1 begins: ("cut", 0) or
# (an xfade transition, seconds).
SETS = {
    "tuned": ([
        ("testsrc2", f"testsrc2=size={W}x{H}:rate={FPS}", 3.0),
        ("bars, 1-frame flash", f"smptehdbars=size={W}x{H}:rate={FPS},{flash('white', 40, 1)}", 3.0),
        ("gradients", f"gradients=size={W}x{H}:rate={FPS}:speed=0.02:seed=7", 3.5),
        ("cellauto", f"cellauto=size={W}x{H}:rate={FPS}:rule=30:seed=3", 3.0),
        ("grey A", f"color=c=0x606060:size={W}x{H}:rate={FPS}", 3.0),
        ("grey B", f"color=c=0x6c6c6c:size={W}x{H}:rate={FPS}", 3.0),
        ("life, 2-frame flash", f"life=size={W}x{H}:rate={FPS}:mold=10:life_color=#00ff00:seed=4,{flash('white', 35, 2)}", 3.0),
        ("fast pan", f"testsrc2=size={W * 3}x{H * 2}:rate={FPS},crop=w={W}:h={H}:"
                     "x='(iw-ow)/2*(1+sin(t*3))':y='(ih-oh)/2*(1+cos(t*2))'", 3.0),
        ("rgb, 3-frame flash", f"rgbtestsrc=size={W}x{H}:rate={FPS},{flash('white', 30, 3)}", 3.0),
        ("grain", f"yuvtestsrc=size={W}x{H}:rate={FPS},noise=alls=25:allf=t", 3.0),
        ("zoom", f"testsrc=size={W}x{H}:rate={FPS},zoompan=z='1+0.01*on':d=1:s={W}x{H}:fps={FPS}", 3.0),
        ("bars, black flash", f"pal100bars=size={W}x{H}:rate={FPS},{flash('black', 30, 2)}", 3.0),
        ("shake", f"testsrc2=size={W + 80}x{H + 80}:rate={FPS},crop=w={W}:h={H}:"
                  "x='40+30*sin(n*2.1)':y='40+30*cos(n*1.7)'", 3.0),
        ("smptebars", f"smptebars=size={W}x{H}:rate={FPS}", 3.0),
        ("life", f"life=size={W}x{H}:rate={FPS}:mold=5:seed=9", 3.0),
    ], [("cut", 0), ("fade", 1.0), ("fadeblack", 1.0), ("cut", 0), ("cut", 0), ("fade", 0.5), ("cut", 0),
        ("fadeblack", 0.6), ("wipeleft", 0.5), ("fade", 1.5), ("cut", 0), ("fade", 1.0), ("cut", 0), ("fade", 0.7)]),
    "held-out": ([
        ("rgbtestsrc", f"rgbtestsrc=size={W}x{H}:rate={FPS}", 3.0),
        ("slow pan", f"testsrc2=size={W * 2}x{H}:rate={FPS},crop=w={W}:h={H}:x='t*80':y=0", 3.5),
        ("large object crossing", f"color=c=0x607080:size={W}x{H}:rate={FPS},drawbox=x='-400+t*700':y=0:w=400:h={H}:color=0xc03020:t=fill", 3.0),
        ("credits roll", f"color=c=0x203060:size={W}x{H}:rate={FPS},drawtext=fontfile={FONT}:text='THE END':fontsize=120:fontcolor=white:x=(w-tw)/2:y='h-t*250'", 3.0),
        ("bars, 2-frame flash", f"smptehdbars=size={W}x{H}:rate={FPS},{flash('white', 45, 2)}", 3.0),
        ("cellauto 110", f"cellauto=size={W}x{H}:rate={FPS}:rule=110:seed=11", 3.0),
        ("fast gradients", f"gradients=size={W}x{H}:rate={FPS}:speed=0.06:seed=3", 3.0),
        ("grain", f"testsrc=size={W}x{H}:rate={FPS},noise=alls=18:allf=t", 3.0),
        ("zoom out", f"pal75bars=size={W}x{H}:rate={FPS},zoompan=z='1.6-0.008*on':d=1:s={W}x{H}:fps={FPS}", 3.0),
        ("grey C", f"color=c=0x505050:size={W}x{H}:rate={FPS}", 3.0),
        ("grey D", f"color=c=0x5c5c5c:size={W}x{H}:rate={FPS}", 3.0),
        ("life, 3-frame flash", f"life=size={W}x{H}:rate={FPS}:mold=20:seed=21,{flash('white', 30, 3)}", 3.0),
        ("handheld", f"pal75bars=size={W + 60}x{H + 60}:rate={FPS},crop=w={W}:h={H}:"
                     "x='30+20*sin(n*0.9)+6*sin(n*3.1)':y='30+15*cos(n*1.3)'", 3.0),
        ("testsrc2", f"testsrc2=size={W}x{H}:rate={FPS}", 3.0),
    ], [("fade", 0.8), ("cut", 0), ("wiperight", 0.6), ("fadeblack", 0.8), ("slideleft", 0.5), ("cut", 0),
        ("fade", 1.2), ("circleopen", 0.7), ("cut", 0), ("cut", 0), ("fadewhite", 0.8), ("fade", 0.6), ("cut", 0)]),
    # Made after the histogram-replacement test was tuned on the two sets above, measured once and not
    # tuned on: other sources, motions and eleven transition kinds none of the sets had.
    "unseen": ([
        ("sierpinski", f"sierpinski=size={W}x{H}:rate={FPS}:seed=5", 3.0),
        ("colour cycling", f"testsrc2=size={W}x{H}:rate={FPS},hue=H=t*2", 3.0),
        ("brightness flicker", f"colorspectrum=size={W}x{H}:rate={FPS},eq=brightness='0.06*sin(t*20)':eval=frame", 3.0),
        ("vertical pan", f"testsrc2=size={W}x{H * 3}:rate={FPS},crop=w={W}:h={H}:x=0:y='(ih-oh)/2*(1+sin(t*4))'", 3.0),
        ("rotation", f"smptehdbars=size={W}x{H}:rate={FPS},rotate='t*0.8'", 3.0),
        ("life, black and white flashes", f"life=size={W}x{H}:rate={FPS}:mold=15:seed=31:life_color=#ffcc00,"
                                          f"{flash('black', 20, 1)},{flash('white', 50, 3)}", 3.0),
        ("grey E", f"color=c=0x707070:size={W}x{H}:rate={FPS}", 3.0),
        ("grey F", f"color=c=0x7b7b7b:size={W}x{H}:rate={FPS}", 3.0),
        ("slow gradients", f"gradients=size={W}x{H}:rate={FPS}:speed=0.01:seed=9", 3.0),
        ("cellauto 90", f"cellauto=size={W}x{H}:rate={FPS}:rule=90:seed=17", 3.0),
        ("heavy grain", f"rgbtestsrc=size={W}x{H}:rate={FPS},noise=alls=30:allf=t", 3.0),
        ("colour chart", f"colorchart=rate={FPS},scale={W}:{H}", 3.0),
        ("shake", f"yuvtestsrc=size={W + 80}x{H + 80}:rate={FPS},crop=w={W}:h={H}:x='40+35*sin(n*1.9)':y='40+25*cos(n*2.3)'", 3.0),
        ("testsrc", f"testsrc=size={W}x{H}:rate={FPS}", 3.0),
    ], [("circleclose", 0.6), ("radial", 0.8), ("cut", 0), ("pixelize", 0.6), ("dissolve", 0.8), ("diagtl", 0.5), ("cut", 0),
        ("fadegrays", 1.0), ("slideup", 0.5), ("hblur", 0.7), ("squeezev", 0.6), ("horzopen", 0.5), ("smoothleft", 0.6)]),
    # Made 2026-11-28 after everything above, measured once and not tuned on: every scene moves (pans,
    # scrolls, handheld shake, a zoom, a picture that changes all the time), as phone footage does, so no
    # transition starts or ends on a still picture.
    "moving": ([
        ("pan right", f"testsrc2=size={W * 2}x{H}:rate={FPS},crop=w={W}:h={H}:x='t*150':y=0", 3.0),
        ("bars scrolling", f"smptehdbars=size={W}x{H}:rate={FPS},scroll=h=-0.004:v=0.002", 3.0),
        ("handheld", f"pal75bars=size={W + 80}x{H + 80}:rate={FPS},crop=w={W}:h={H}:"
                     "x='40+25*sin(n*0.7)+8*sin(n*2.9)':y='40+20*cos(n*1.1)'", 3.0),
        ("zoom in", f"rgbtestsrc=size={W}x{H}:rate={FPS},zoompan=z='1+0.006*on':d=1:s={W}x{H}:fps={FPS}", 3.0),
        ("scroll down", f"yuvtestsrc=size={W}x{H}:rate={FPS},scroll=v=0.005", 3.0),
        ("diagonal pan", f"testsrc=size={W * 2}x{H * 2}:rate={FPS},crop=w={W}:h={H}:x='t*120':y='t*70'", 3.0),
        ("chart pan", f"colorchart=rate={FPS},scale={W * 2}:{H * 2},crop=w={W}:h={H}:x='(iw-ow)*t/3':y='(ih-oh)/2'", 3.0),
        ("cellauto", f"cellauto=size={W}x{H}:rate={FPS}:rule=150:seed=23", 3.0),
        ("bars shake", f"smptebars=size={W + 80}x{H + 80}:rate={FPS},crop=w={W}:h={H}:x='40+30*sin(n*1.5)':y='40+20*cos(n*1.9)'", 3.0),
        ("pan left", f"testsrc2=size={W * 2}x{H}:rate={FPS},hue=h=120,crop=w={W}:h={H}:x='iw-ow-t*150':y=0", 3.0),
        ("sierpinski", f"sierpinski=size={W}x{H}:rate={FPS}:seed=13", 3.0),
    ], [("fade", 0.8), ("wipeleft", 0.6), ("cut", 0), ("dissolve", 0.8), ("radial", 0.8), ("circleopen", 0.6), ("cut", 0),
        ("smoothleft", 0.6), ("slideright", 0.5), ("fadeblack", 0.8)]),
    # Made 2026-12-02 after everything above, measured once and not tuned on: portrait 720x1280 at 30 fps
    # like phone footage and reels, large outlined captions (one changes its words mid-scene), low light
    # with grain, an exposure ramp, a whip pan and a 2-frame flash inside scenes, short reel-style
    # transitions (0.3-0.5 s) of kinds no other set has, and cuts between similar story cards.
    "phone": ([
        ("selfie shake", f"testsrc2=size={PW + 80}x{PH + 80}:rate={PFPS},crop=w={PW}:h={PH}:"
                         "x='40+22*sin(n*0.8)+7*sin(n*3.3)':y='40+18*cos(n*1.2)+5*sin(n*2.7)'", 3.0),
        ("caption changes words", f"gradients=size={PW}x{PH}:rate={PFPS}:speed=0.015:seed=41,"
                                  f"{big_caption('WAIT FOR IT', 0, 1.5)},{big_caption('HERE IT IS', 1.5, 9)}", 3.0),
        ("low light grain", f"rgbtestsrc=size={PW}x{PH}:rate={PFPS},eq=brightness=-0.25:contrast=0.7,noise=alls=22:allf=t", 3.0),
        ("story card blue", f"color=c=0x3050a0:size={PW}x{PH}:rate={PFPS},{big_caption('DAY 1', 0, 9)}", 2.5),
        ("story card bluer", f"color=c=0x3a5aac:size={PW}x{PH}:rate={PFPS},{big_caption('DAY 2', 0, 9)}", 2.5),
        ("exposure ramp", f"smptehdbars=size={PW}x{PH}:rate={PFPS},eq=brightness='-0.2+t*0.12':eval=frame", 3.0),
        ("whip pan", f"testsrc=size={PW * 4}x{PH}:rate={PFPS},crop=w={PW}:h={PH}:"
                     f"x='if(lt(t,1.2),0,if(lt(t,1.5),(t-1.2)/0.3*{PW * 3},{PW * 3}))':y=0", 3.0),
        ("life, 2-frame flash", f"life=size={PW}x{PH}:rate={PFPS}:mold=12:seed=51:life_color=#ff6699,{flash('white', 40, 2)}", 3.0),
        ("walking zoom", f"yuvtestsrc=size={PW}x{PH}:rate={PFPS},zoompan=z='1+0.004*on':x='iw/2-(iw/zoom/2)+8*sin(on*0.6)':"
                         f"y='ih/2-(ih/zoom/2)':d=1:s={PW}x{PH}:fps={PFPS}", 3.0),
        ("cellauto", f"cellauto=size={PW}x{PH}:rate={PFPS}:rule=18:seed=61", 3.0),
        ("bars", f"pal100bars=size={PW}x{PH}:rate={PFPS}", 3.0),
        ("testsrc2 tilted", f"testsrc2=size={PW}x{PH}:rate={PFPS},rotate='0.15*sin(t*2)'", 3.0),
    ], [("zoomin", 0.5), ("cut", 0), ("fadefast", 0.4), ("cut", 0), ("rectcrop", 0.4), ("distance", 0.4),
        ("cut", 0), ("vuslice", 0.5), ("fadeblack", 0.5), ("wipetr", 0.4), ("cut", 0)], (PW, PH, PFPS)),
}
KIND = {"cut": "hard cut", "fade": "dissolve", "fadeblack": "fade through black", "wipeleft": "wipe", "wiperight": "wipe",
        "slideleft": "slide", "circleopen": "iris", "fadewhite": "fade through white", "circleclose": "iris",
        "radial": "radial wipe", "pixelize": "pixelize", "dissolve": "pixel dissolve", "diagtl": "diagonal wipe",
        "fadegrays": "fade through grey", "slideup": "slide", "hblur": "blur", "squeezev": "squeeze", "horzopen": "barn door",
        "smoothleft": "soft wipe", "slideright": "slide", "zoomin": "zoom", "fadefast": "dissolve", "rectcrop": "rectangle crop",
        "distance": "distance blend", "vuslice": "slice wipe", "wipetr": "diagonal wipe", "wipeup": "wipe"}


def make_video(path, scenes, joins, fps=FPS, native420=False, pix_fmt=None):
    if os.path.exists(path) and os.path.exists(path + ".truth.json"):
        return json.load(open(path + ".truth.json"))
    inputs, graph = [], []
    for i, (name, source, seconds, *own) in enumerate(scenes):
        text = own[0] if own else caption("Same caption", moving=False) if name.startswith("grey") else caption(f"Scene {i}")
        inputs += ["-f", "lavfi", "-i", f"{source},trim=duration={seconds},setpts=PTS-STARTPTS,{text},format={pix_fmt or 'yuv420p'},settb=1/{fps}"]
    current, length, truth = "[0:v]", scenes[0][2], []
    for k, (transition, seconds) in enumerate(joins):
        nxt, out = f"[{k + 1}:v]", f"[j{k}]"
        following = scenes[k + 1][2]
        if transition == "cut":
            kind = "low-contrast cut" if (scenes[k][0].startswith("grey") and scenes[k + 1][0].startswith("grey")
                                          or scenes[k][0].endswith("(before)") and scenes[k + 1][0].endswith("(after)")) else "hard cut"
            graph.append(f"{current}{nxt}concat=n=2:v=1:a=0,settb=1/{fps}{out}")
            truth.append({"kind": kind, "start": length, "end": length})
            length += following
        else:
            offset = round(length - seconds, 3)
            graph.append(f"{current}{nxt}xfade=transition={transition}:duration={seconds}:offset={offset}{out}")
            truth.append({"kind": KIND[transition], "start": offset, "end": round(offset + seconds, 3)})
            length = offset + following
        current = out
    ffmpeg(*inputs, "-filter_complex", ";".join(graph), "-map", current, "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "20", "-g", "250", "-r", str(fps),
           *(["-pix_fmt", pix_fmt or "yuv420p"] if native420 or pix_fmt else []), path)
    json.dump(truth, open(path + ".truth.json", "w"))
    return truth


def score(found, truth, fps=FPS):
    """Overall F1, the transitions missed and the false cuts; a boundary matches one transition within its span."""
    return span_score(found, truth, 2.5 / fps, lambda t: (t["start"], t["end"]))


def gg(path, detector):
    work = os.path.join(OUT, "work-varied-" + detector)
    record = json.dumps({"id": "varied", "url": path, "items": [{"index": 0, "type": "video", "path": path}]})
    cmd = [os.path.join(BIN, "gg-scenes"), "--work-dir", work, "--jobs", "1", "--detector", detector, *READ]
    seconds, proc = best_of(3, cmd, input=record)
    scenes = json.loads(proc.stdout)["items"][0]["scenes"]
    return seconds, [s["start"] for s in scenes[1:]], [s.get("keyframe_time") for s in scenes]


def inside(keyframes, truth):
    return [t for t in keyframes if t is not None and any(g["start"] < t < g["end"] for g in truth if g["end"] > g["start"])]


INSIDE = {"tuned": "white flashes of 1, 2 and 3 frames, a 2-frame black flash, a fast pan, a zoom, shake, grain",
          "held-out": "white flashes of 2 and 3 frames, a slow pan, a large object crossing, a credits roll, fast gradients, "
                      "grain, a zoom out, handheld shake",
          "unseen": "hue cycling, brightness flicker, a fast vertical pan, a rotation, a 1-frame black and a 3-frame white "
                    "flash over moving footage, slow gradients, heavy grain, shake",
          "moving": "pans, scrolls, handheld shake, a zoom, a picture changing all the time",
          "phone": "handheld shake, an outlined caption changing its words, low light with grain, an exposure ramp, "
                   "a whip pan, a 2-frame white flash, a zoom while walking, a tilting picture"}
def as_yuv420(video):
    """The set's video re-encoded in 4:2:0, as phones and most sites deliver video (the sets come out of
    lavfi in 4:4:4, which gg-scenes analysed through another path until 2026-11-28)."""
    path = video.replace(".mp4", "-yuv420.mp4")
    if not os.path.exists(path):
        ffmpeg("-i", video, "-c:v", "libx264", "-preset", "fast", "-crf", "18", "-pix_fmt", "yuv420p", path)
    return path



# Bump when draw() changes, so videos drawn by an older generator are not reused.
GENERATOR = 3
PATTERNS = ["testsrc2", "testsrc", "smptebars", "smptehdbars", "pal75bars", "rgbtestsrc", "yuvtestsrc"]
XFADES = ["fade", "fadeblack", "fadewhite", "wipeleft", "wiperight", "wipeup", "slideleft", "slideup", "circleopen",
          "circleclose", "radial", "dissolve", "pixelize", "diagtl", "hblur", "smoothleft", "horzopen", "fadegrays",
          "rectcrop", "distance", "zoomin", "vuslice", "wipetr"]


def hex_colour(rng, low=20, high=235):
    return "0x" + "".join(f"{rng.randint(low, high):02x}" for _ in range(3))


def drawn_scene(rng, k, w, h, fps, seconds):
    """One scene drawn from `rng`: a title card (white words on black), or a source (test pattern, gradients
    rotating at a drawn speed, cellular automaton, life, fractal, a flat colour), maybe moved (pan, zoom, shake) and changed (grain, a light or hue drift, a
    flash), with a caption that moves or holds. Returns (name, lavfi chain, seconds, caption filter)."""
    size = f"size={w}x{h}:rate={fps}"
    if rng.random() < 0.08:
        words = rng.choice(["CHAPTER ONE", "THE NEXT DAY", "MEANWHILE", "PART II", "THREE YEARS LATER", "THE END"])
        return ("title card", f"color=c=black:{size}", seconds,
                f"drawtext=fontfile={FONT}:text='{words}':fontsize={rng.randint(h // 16, h // 8)}:fontcolor=white:"
                f"x=(w-tw)/2:y=(h-th)/{rng.choice([2, 3])}")
    kind = rng.choice(["pattern", "pattern", "gradients", "cellauto", "life", "sierpinski", "flat"])
    move = rng.choice(["none", "none", "pan", "zoom", "shake"]) if kind in ("pattern", "sierpinski") else "none"
    name = kind
    if kind == "pattern":
        name = rng.choice(PATTERNS)
        if move == "pan":
            big = f"size={2 * w}x{2 * h}:rate={fps}"
            speed = rng.uniform(0.3, 3)
            chain = f"{name}={big},crop=w={w}:h={h}:x='(iw-ow)/2*(1+sin(t*{speed:.2f}))':y='(ih-oh)/2*(1+cos(t*{speed * 0.7:.2f}))'"
        elif move == "zoom":
            rate = rng.choice([1, -1]) * rng.uniform(0.003, 0.012)
            chain = f"{name}={size},zoompan=z='{1.0 if rate > 0 else 1.8}+{rate:.4f}*on':d=1:s={w}x{h}:fps={fps}"
        elif move == "shake":
            a = rng.randint(5, 30)
            chain = f"{name}=size={w + 2 * a}x{h + 2 * a}:rate={fps},crop=w={w}:h={h}:x='{a}+{a}*sin(n*{rng.uniform(0.5, 2.5):.2f})':y='{a}+{a}*cos(n*{rng.uniform(0.5, 2.5):.2f})'"
        else:
            chain = f"{name}={size}"
    elif kind == "gradients":
        name = "rotating gradient"
        chain = (f"gradients={size}:nb_colors={rng.choice([2, 2, 3, 4])}:c0={hex_colour(rng)}:c1={hex_colour(rng)}:c2={hex_colour(rng)}:"
                 f"c3={hex_colour(rng)}:speed={rng.uniform(0.005, 0.05):.4f}:seed={rng.randint(0, 10 ** 6)}")
    elif kind == "cellauto":
        chain = f"cellauto={size}:rule={rng.choice([18, 30, 90, 110, 150])}:start_full=1:seed={rng.randint(0, 10 ** 6)}"
    elif kind == "life":
        chain = f"life={size}:mold={rng.randint(0, 30)}:life_color={hex_colour(rng)}:seed={rng.randint(0, 10 ** 6)}"
    elif kind == "sierpinski":
        chain = f"sierpinski={size}:seed={rng.randint(0, 10 ** 6)}"
        if move == "pan":
            chain = f"sierpinski=size={2 * w}x{2 * h}:rate={fps}:seed={rng.randint(0, 10 ** 6)},crop=w={w}:h={h}:x='t*{rng.randint(40, 200)}':y=0"
    else:
        chain = f"color=c={hex_colour(rng)}:{size}"
    changes = []
    if rng.random() < 0.25:
        chain += f",noise=alls={rng.randint(8, 30)}:allf=t"
        changes.append("grain")
    drift = rng.random()
    if drift < 0.15:
        chain += f",eq=eval=frame:brightness='{rng.uniform(-0.3, 0):.2f}+{rng.uniform(0.03, 0.1):.3f}*t'"
        changes.append("light ramp")
    elif drift < 0.3:
        chain += f",hue=h='t*{rng.uniform(8, 40):.1f}'"
        changes.append("hue drift")
    if rng.random() < 0.25:
        frames = rng.randint(1, 3)
        first = rng.randint(int(0.3 * seconds * fps), int(0.7 * seconds * fps))
        chain += "," + flash(rng.choice(["white", "black"]), first, frames)
        changes.append(f"{frames}-frame flash")
    fontsize = rng.randint(int(h * 0.04), int(h * 0.09))
    style = rng.choice(["moving", "still", "reel"])
    if style == "reel":
        start = rng.uniform(0, seconds / 2)
        text = (f"drawtext=fontfile={FONT}:text='Part {k}':fontsize={2 * fontsize}:fontcolor=white:bordercolor=black:"
                f"borderw={max(2, fontsize // 10)}:x=(w-tw)/2:y=h*0.62:enable='between(t,{start:.2f},{seconds})'")
        changes.append("caption appears")
    else:
        x = f"40+t*{rng.randint(20, 80)}" if style == "moving" else "(w-tw)/2"
        text = (f"drawtext=fontfile={FONT}:text='Scene {k}':fontsize={fontsize}:fontcolor=white:bordercolor=black:"
                f"borderw=3:x={x}:y=h-{fontsize * 2}")
    label = ", ".join([name] + ([move] if move != "none" else []) + changes)
    return label, chain, seconds, text


def low_contrast_pair(rng, w, h, fps, seconds):
    """Two flat pictures (grey, or one colour) 7-12 levels apart under one unchanged caption: a cut only the
    picture behind the caption makes."""
    base = [rng.randint(50, 190)] * 3 if rng.random() < 0.5 else [rng.randint(50, 190) for _ in range(3)]
    step = rng.choice([-1, 1]) * rng.randint(7, 12)
    fontsize = rng.randint(int(h * 0.04), int(h * 0.08))
    text = (f"drawtext=fontfile={FONT}:text='{rng.choice(['Same caption', 'Stay tuned', 'Live now', 'Episode 4'])}':"
            f"fontsize={fontsize}:fontcolor=white:bordercolor=black:borderw=3:x=(w-tw)/2:y=h-{fontsize * 2}")
    grain = f",noise=alls={rng.randint(2, 6)}:allf=t" if rng.random() < 0.4 else ""
    colour = lambda c: "0x" + "".join(f"{v:02x}" for v in c)
    return [(f"low contrast {colour(base)} (before)", f"color=c={colour(base)}:size={w}x{h}:rate={fps}{grain}", seconds[0], text),
            (f"low contrast {colour([v + step for v in base])} (after)",
             f"color=c={colour([v + step for v in base])}:size={w}x{h}:rate={fps}{grain}", seconds[1], text)]


def draw(seed):
    """A video drawn from `seed`: geometry, frame rate, chroma format, 9-13 scenes and the joins between them
    (hard cuts, low-contrast cuts under one caption, transitions of 0.3-1.2 s)."""
    rng = random.Random(seed)
    w, h = rng.choice([(1280, 720), (960, 540), (640, 360), (720, 1280), (1080, 1080)])
    fps = rng.choice([24, 25, 30])
    pix_fmt = rng.choice(["yuv420p", "yuv420p", "yuv444p"])
    count = rng.randint(9, 13)
    frames = lambda seconds: round(round(seconds * fps) / fps, 4)
    scenes, joins = [], []
    while len(scenes) < count:
        if scenes:
            joins.append(None)
        if rng.random() < 0.15:
            scenes += low_contrast_pair(rng, w, h, fps, [frames(rng.uniform(2, 4)) for _ in range(2)])
            joins.append(("cut", 0))
        else:
            scenes.append(drawn_scene(rng, len(scenes), w, h, fps, frames(rng.uniform(2, 4.5))))
    for k, join in enumerate(joins):
        if join is None:
            longest = min(scenes[k][2], scenes[k + 1][2]) / 2
            joins[k] = ("cut", 0) if rng.random() < 0.5 else (rng.choice(XFADES), frames(min(longest, rng.uniform(0.3, 1.2))))
    return scenes, joins, (w, h, fps), pix_fmt


def psd_cuts(video, runs):
    script = ("import sys; from scenedetect import detect, ContentDetector; "
              "s = detect(sys.argv[1], ContentDetector()); print(' '.join(str(x[0].get_seconds()) for x in s[1:]))")
    seconds, proc = best_of(runs, [sys.executable, "-c", script, video])
    return (seconds, [float(x) for x in proc.stdout.split()]) if proc.returncode == 0 else (None, [])


def decode_floor(video, runs):
    return best_of(runs, ["ffmpeg", "-nostdin", "-v", "error", "-threads", "2", "-i", video, "-f", "null", "-"])[0]


def gg_cuts(video, runs, without=""):
    record = json.dumps({"id": "drawn", "url": video, "items": [{"index": 0, "type": "video", "path": video}]})
    cmd = [os.path.join(BIN, "gg-scenes"), "--work-dir", os.path.join(OUT, "work-drawn"), *READ,
           *(["--without-rules", without] if without else [])]
    seconds, proc = best_of(runs, cmd, input=record)
    scenes = json.loads(proc.stdout)["items"][0]["scenes"]
    return seconds, [s["start"] for s in scenes[1:]], [s.get("keyframe_time") for s in scenes]


def run_seeds(seeds, runs, verbose, ablation):
    rules = ["flash", "faint", "two-frame", "title-card", "dissolve", "wipe", "replacement", "sweep"]
    variants = [""] + (rules if ablation else [])
    results = {v: [] for v in variants}
    psd, floors = [], []
    row("seed", "video", "gg F1", "PSD F1", "gg s", "PSD s", "floor s")
    for seed in seeds:
        scenes, joins, (w, h, fps), pix_fmt = draw(seed)
        video = os.path.join(OUT, f"scenes-drawn-g{GENERATOR}-{seed}.mp4")
        truth = make_video(video, scenes, joins, fps, pix_fmt=pix_fmt)
        floor = decode_floor(video, runs)
        psd_s, psd_found = psd_cuts(video, runs) if not (ablation or "--no-psd" in sys.argv) else (None, [])
        for v in variants:
            seconds, found, keyframes = gg_cuts(video, runs, v)
            f1, missed, false = score(found, truth, fps)
            results[v].append((f1, seconds / floor, len(inside(keyframes, truth))))
            if v == "":
                gg_f1, gg_s, gg_missed, gg_false = f1, seconds, missed, false
        psd_f1 = score(psd_found, truth, fps)[0] if psd_s is not None else float("nan")
        psd.append((psd_f1, (psd_s or float("nan")) / floor))
        floors.append(floor)
        row(str(seed), f"{w}x{h}@{fps} {pix_fmt[3:]}", f"{gg_f1:.3f}", f"{psd_f1:.3f}", f"{gg_s:.2f}",
            f"{psd_s:.2f}" if psd_s else "-", f"{floor:.2f}")
        if verbose:
            for m in gg_missed:
                print(f"    missed {m['kind']} at {m['start']:.2f}-{m['end']:.2f}")
            for c in gg_false:
                print(f"    false cut at {c:.2f}: inside " + next((n for n, t in scene_times(scenes, joins) if t[0] <= c < t[1]), "?"))
    print()
    f1s = [r[0] for r in results[""]]
    print(f"gg-scenes     F1 mean {statistics.mean(f1s):.3f} worst {min(f1s):.3f}; time / decode floor mean "
          f"{statistics.mean(r[1] for r in results['']):.2f} worst {max(r[1] for r in results['']):.2f}; "
          f"keyframes inside transitions {sum(r[2] for r in results[''])}")
    if not ablation and "--no-psd" not in sys.argv:
        print(f"PySceneDetect F1 mean {statistics.mean(p[0] for p in psd):.3f} worst {min(p[0] for p in psd):.3f}; "
              f"time / decode floor mean {statistics.mean(p[1] for p in psd):.2f}")
    if ablation:
        row("without", "F1 mean", "F1 worst", "time/floor", "F1 change")
        for v in variants:
            f = [r[0] for r in results[v]]
            row(v or "(all rules)", f"{statistics.mean(f):.3f}", f"{min(f):.3f}",
                f"{statistics.mean(r[1] for r in results[v]):.2f}", f"{statistics.mean(f) - statistics.mean(f1s):+.3f}")


def scene_times(scenes, joins):
    """(name, (start, end)) of each scene in the joined video."""
    out, t = [], 0.0
    for k, scene in enumerate(scenes):
        start = t
        t += scene[2] - (joins[k][1] if k < len(joins) and joins[k][0] != "cut" else 0)
        out.append((scene[0], (start, t)))
    return out


if "--seeds" in sys.argv:
    args = sys.argv[sys.argv.index("--seeds") + 1]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    run_seeds(seed_list(args), runs, "--verbose" in sys.argv, "--ablation" in sys.argv)
    sys.exit(0)

yuv420 = "--yuv420" in sys.argv
totals = {}
for set_name in [a for a in sys.argv[1:] if not a.startswith("--")] or SETS:
    scenes, joins, *geometry = SETS[set_name]
    fps = geometry[0][2] if geometry else FPS
    video = os.path.join(OUT, f"scenes-varied-{set_name}-v1.mp4")
    truth = make_video(video, scenes, joins, fps, native420=bool(geometry))
    if yuv420 and not geometry:
        video = as_yuv420(video)
    print(f"== {set_name}: {video} ({len(scenes)} scenes, {len(truth)} boundaries: "
          + ", ".join(f"{sum(t['kind'] == k for t in truth)} {k}" for k in dict.fromkeys(t['kind'] for t in truth)) + ")")
    print(f"inside scenes, not cuts: {INSIDE[set_name]}")
    results = {}
    for detector in ("adaptive", "content"):
        results[f"gg-scenes --detector {detector}"] = gg(video, detector)
    psd_s, psd_found = pyscenedetect_cuts(video)
    if psd_s is not None:
        results["PySceneDetect ContentDetector"] = (psd_s, psd_found, [])
    row("", "seconds", "F1", "missed", "false cuts", "keyframes in")
    for name, (seconds, found, keyframes) in results.items():
        f1, missed, false = score(found, truth, fps)
        totals.setdefault(name, []).append((seconds, f1))
        row(name, f"{seconds:.2f}", f"{f1:.3f}", str(len(missed)), str(len(false)),
            str(len(inside(keyframes, truth))) if keyframes else "-")
        for m in missed:
            print(f"    missed {m['kind']} at {m['start']:.2f}-{m['end']:.2f}")
        for c in false:
            print(f"    false cut at {c:.2f}")
        for t in inside(keyframes, truth):
            print(f"    keyframe at {t:.2f} inside a transition")
    if psd_s is not None:
        print(f"PySceneDetect time / gg-scenes default: {psd_s / results['gg-scenes --detector adaptive'][0]:.2f}x   (target >= 2)")
    else:
        print("PySceneDetect not installed: pip install scenedetect-headless")
    print()
print("worst F1 over the sets: " + ", ".join(f"{name} {min(f for _, f in runs):.3f}" for name, runs in totals.items()))
print("target: F1 >= 0.99 for the default detector on every set, no keyframe inside a transition")
