#!/usr/bin/env python3
"""gg-ocr against the tesseract CLI on pictures drawn at random from seeds (issue 36): each seed draws --count
pictures (default 10) of six kinds: video keyframes with captions (lavfi sources, flat colours, gradients,
automata or real photos behind; boxed, outlined, shadowed or bare captions of one or two lines, at any height),
phone frames with reel captions, documents (dark on light, dark mode, low contrast, small print, serif or sans),
documents turned a quarter or half turn, screenshots (labels and buttons in small print) and textless
pictures. Words are drawn from a list, so the text of every picture is known. The real photos are scikit-image's
sample pictures (pinned by sha256, downloaded once, as bench/ocr_real.py does).

Per picture, one process each, each tool with its defaults: word recall and precision against the drawn text
and the time of each. Prints per seed the mean recall of both tools and the worst time ratio, then the mean and
the worst over the seeds, recall per kind, and every picture where gg-ocr reads fewer words than the CLI.

  bench/ocr_drawn.py --seeds 1-5          tune on these (the default)
  bench/ocr_drawn.py --seeds 11-20        report fresh seeds, drawn after the change, once
  --count N: pictures per seed (10); --verbose: every picture, with both readings"""
import json, os, random, sys
from common import OUT, BIN, READ, best_of, ffmpeg, require_release, pinned_download, package_member, recall_precision, seed_list

require_release()
from ocr_real import SKIMAGE, PACKAGES  # noqa: E402  (the same pinned scikit-image wheel)

FOLDER = os.path.join(OUT, "ocr-drawn")
GENERATOR = 1
WORDS = ("about after again air all along also animal answer area away back base bear best better big bird black "
         "blue boat body book both bring build call came can carry change city close cold come could country cover "
         "cross dark day deep does dog door down draw during early earth east eight enough even every eye face fall "
         "family farm fast father field figure find fire first fish five food foot force form found four free friend "
         "from full game garden give glass gold good great green ground group grow half hand hard head hear heart "
         "heavy help high hold home horse hour house idea inside island just keep kind king land large last late "
         "learn leave left letter life light line list little live long look low machine main make many map mark "
         "measure middle might mile mind minute money moon more morning mother mountain move music name near need "
         "never new next night north note number ocean offer often open order other page paper part pass people "
         "picture place plan plant play point power press price problem product pull question quick rain reach read "
         "ready record red remember rest right river road rock room round rule run same school science sea second "
         "seven shape ship short show side simple size sleep slow small snow sound south space special spring stand "
         "star start station step still stone stop story street strong study summer sun sure table take talk ten "
         "test thing think three through time today together top toward town travel tree true turn under until "
         "upon valley voice wait walk warm watch water wave weather week west wheel white whole wind window winter "
         "with without wood word work world write year yellow young zinc jolly queen jump quiet quartz jazz").split()
FONTS = [f for f in ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                     "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
                     "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
                     "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf", "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf"]
         if os.path.exists(f)]
PHOTOS = ["astronaut.png", "camera.png", "coffee.png", "chelsea.png", "rocket.jpg", "coins.png", "moon.png",
          "motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png", "brick.png", "grass.png", "gravel.png", "retina.jpg"]
KINDS = [("caption", 35), ("reel", 15), ("document", 20), ("turned", 10), ("screenshot", 10), ("textless", 10)]


def photo(name):
    path = os.path.join(FOLDER, "photos", name)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").write(package_member(pinned_download(PACKAGES, *SKIMAGE), "skimage/data/" + name))
    return path


def colour(rng, lo=0, hi=255):
    return "0x" + "".join(f"{rng.randint(lo, hi):02x}" for _ in range(3))


def background(rng, w, h):
    """ffmpeg input arguments for a drawn background of w x h and the filter that fits it."""
    kind = rng.choice(["testsrc2", "smptehdbars", "color", "gradients", "cellauto", "life", "mandelbrot", "photo", "photo"])
    fit = f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
    if kind == "photo":
        return ["-i", photo(rng.choice(PHOTOS))], fit + ",format=rgb24"
    opts = {"color": f":c={colour(rng)}",
            "gradients": f":c0={colour(rng)}:c1={colour(rng)}:seed={rng.randint(0, 999)}",
            "cellauto": f":rule={rng.choice([30, 90, 110, 150])}:seed={rng.randint(0, 999)}",
            "life": f":mold=10:ratio={rng.uniform(0.1, 0.5):.2f}:seed={rng.randint(0, 999)}"}.get(kind, "")
    size = f"{w}x{h}" if kind not in ("cellauto", "life") else f"{w // 4}x{h // 4}"
    return ["-f", "lavfi", "-i", f"{kind}=size={size}{opts}"], fit


def phrase(rng, n, case=None):
    words = [rng.choice(WORDS) for _ in range(n)]
    case = case or rng.choice(["upper", "title", "lower"])
    return " ".join(w.upper() if case == "upper" else w.capitalize() if case == "title" else w for w in words)


def drawtext(folder, name, text, font, size, x, y, style):
    path = os.path.join(folder, name + ".txt")
    open(path, "w").write(text)
    return f"drawtext=textfile={path}:fontfile={font}:fontsize={size}:x={x}:y={y}:{style}"


def caption_style(rng, thickness):
    fill = rng.choice(["white", "white", "yellow", "black"])
    edge = "white" if fill == "black" else "black"
    return rng.choice([("outlined", f"fontcolor={fill}:borderw={thickness}:bordercolor={edge}"),
                       ("boxed", f"fontcolor={fill}:box=1:boxcolor={edge}@{rng.uniform(0.5, 1):.2f}:boxborderw={thickness * 3}"),
                       ("shadowed", f"fontcolor={fill}:shadowx={thickness}:shadowy={thickness}:shadowcolor={edge}"),
                       ("bare", f"fontcolor={fill}")])


def draw(rng, n):
    """One picture: (path, kind, its text, what was drawn)."""
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    base = os.path.join(FOLDER, f"g{GENERATOR}-{n}")
    font = rng.choice(FONTS)
    if kind in ("caption", "reel"):
        w, h = rng.choice([(854, 480), (1280, 720), (640, 360), (960, 540)]) if kind == "caption" else rng.choice([(720, 1280), (1080, 1920), (1080, 1350)])
        inputs, fit = background(rng, w, h)
        size = int(h * (rng.uniform(0.045, 0.09) if kind == "caption" else rng.uniform(0.03, 0.05)))
        lines = [phrase(rng, rng.randint(2, 4)) for _ in range(rng.choice([1, 1, 2]))]
        look, style = caption_style(rng, max(2, size // 12))
        top = rng.choice([0.08, 0.4, 0.7, 0.8]) * h
        filters = [drawtext(FOLDER, f"{os.path.basename(base)}-{k}", line, font, size, "(w-tw)/2", int(top + k * size * 1.4), style)
                   for k, line in enumerate(lines)]
        path = base + ".jpg"
        ffmpeg(*inputs, "-vf", ",".join([fit] + filters), "-frames:v", "1", "-q:v", str(rng.randint(2, 6)), path)
        return path, kind, " ".join(lines), f"{w}x{h} {inputs[-1].split('/')[-1]} {look} {style.split(':')[0]} {size}px {os.path.basename(font)}"
    if kind == "textless":
        w, h = rng.choice([(854, 480), (1280, 720), (720, 1280), (512, 512)])
        inputs, fit = background(rng, w, h)
        path = base + ".jpg"
        ffmpeg(*inputs, "-vf", fit, "-frames:v", "1", "-q:v", "3", path)
        return path, kind, "", f"{w}x{h} {inputs[-1].split('/')[-1]}"
    if kind == "screenshot":
        w, h = rng.choice([(640, 400), (800, 500), (1024, 640), (480, 360)])
        paper, ink = rng.choice([("0xf0f0f0", "0x202020"), ("0xffffff", "0x333333"), ("0x2b2b2b", "0xe0e0e0"), ("0xdcdad5", "0x000000")])
        size = rng.randint(12, 18)
        labels, filters = [], []
        cols, rows = rng.randint(2, 3), rng.randint(3, 6)
        for r in range(rows):
            for c in range(cols):
                if rng.random() < 0.25:
                    continue
                text = phrase(rng, rng.randint(1, 3), "title")
                x, y = 20 + c * (w - 20) // cols, 20 + r * (h - 30) // rows
                if rng.random() < 0.3:
                    filters.append(f"drawbox=x={x - 6}:y={y - 6}:w={len(text) * size * 0.62 + 12:.0f}:h={size * 1.6:.0f}:color={ink}@0.5:t=1")
                filters.append(drawtext(FOLDER, f"{os.path.basename(base)}-{r}-{c}", text, font, size, x, y, f"fontcolor={ink}"))
                labels.append(text)
        path = base + ".png"
        ffmpeg("-f", "lavfi", "-i", f"color=c={paper}:size={w}x{h}", "-vf", ",".join(filters), "-frames:v", "1", path)
        return path, kind, " ".join(labels), f"{w}x{h} {paper}/{ink} {size}px {os.path.basename(font)}"
    # a document, upright or turned
    paper, ink = rng.choice([("white", "black"), ("white", "black"), ("0x1e1e1e", "0xdddddd"), ("0xc8c8c8", "0x707070"),
                             ("0xf3e9d2", "0x4a3c2a"), ("0xeeeeee", "0x999999")])
    size = rng.choice([rng.randint(12, 16), rng.randint(16, 24), rng.randint(24, 36)])
    lines = [phrase(rng, rng.randint(4, 8), "lower").capitalize() for _ in range(rng.randint(3, 8))]
    w = max(int(max(len(line) for line in lines) * size * 0.62) + 80, 400)
    h = int(len(lines) * size * 1.6) + 80
    filters = [drawtext(FOLDER, f"{os.path.basename(base)}-{k}", line, font, size, 40, int(40 + k * size * 1.6), f"fontcolor={ink}")
               for k, line in enumerate(lines)]
    turn = ""
    if kind == "turned":
        turn = rng.choice(["transpose=1", "transpose=2", "hflip,vflip"])
        filters.append(turn)
    if rng.random() < 0.3:
        filters.append("noise=alls=12")
    path = base + ".png"
    ffmpeg("-f", "lavfi", "-i", f"color=c={paper}:size={w}x{h}", "-vf", ",".join(filters), "-frames:v", "1", path)
    return path, kind, " ".join(lines), f"{w}x{h} {paper}/{ink} {size}px {os.path.basename(font)} {turn}"


def main():
    chosen = seed_list(sys.argv[sys.argv.index("--seeds") + 1] if "--seeds" in sys.argv else "1-5")
    count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 10
    verbose = "--verbose" in sys.argv
    os.makedirs(FOLDER, exist_ok=True)
    cli_env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    per_seed, per_kind, worse, ratios = [], {}, [], []
    print(f"{'seed':<6}{'gg recall':>10}{'CLI recall':>11}{'gg prec':>9}{'CLI prec':>9}{'gg s':>8}{'CLI s':>8}{'worst ratio':>13}")
    for seed in chosen:
        rng = random.Random(f"ocr-drawn-{GENERATOR}-{seed}")
        rows = []
        for n in range(count):
            path, kind, truth, what = draw(rng, f"{seed}-{n}")
            record = json.dumps({"id": "drawn", "url": "x", "items": [{"index": 0, "type": "image", "path": path}]})
            gg_s, gg = best_of(1, [os.path.join(BIN, "gg-ocr"), "--work-dir", os.path.join(OUT, "work-ocr-drawn"), *READ], input=record)
            item = json.loads(gg.stdout)["items"][0]
            cli_s, cli = best_of(1, ["tesseract", path, "stdout"], env=cli_env)
            gg_text, cli_text = item.get("text", ""), cli.stdout
            if truth:
                (gr, gp), (cr, cp) = recall_precision(gg_text, truth), recall_precision(cli_text, truth)
            else:
                gr = cr = None
                gp, cp = float(not gg_text.strip()), float(not cli_text.strip())
            rows.append((kind, gr, cr, gp, cp, gg_s, cli_s))
            ratios.append((gg_s / cli_s, os.path.basename(path), what))
            per_kind.setdefault(kind, []).append((gr, cr, gg_s, cli_s))
            if gr is not None and gr < cr:
                worse.append((os.path.basename(path), kind, what, gr, cr, item.get("confidence"), "; ".join(item.get("warnings", []))[:40]))
            if verbose:
                print(f"  {os.path.basename(path):<14}{kind:<11}{what}\n    gg  {gr} {gg_s:.2f}s {gg_text!r:.120}\n    CLI {cr} {cli_s:.2f}s {cli_text!r:.120}")
        texts = [r for r in rows if r[1] is not None]
        mean = lambda k, rs: sum(r[k] for r in rs) / len(rs) if rs else float("nan")
        seed_ratio = max(r[5] / r[6] for r in rows)
        per_seed.append((seed, mean(1, texts), mean(2, texts)))
        print(f"{seed:<6}{mean(1, texts):>10.3f}{mean(2, texts):>11.3f}{mean(3, rows):>9.3f}{mean(4, rows):>9.3f}"
              f"{sum(r[5] for r in rows):>8.2f}{sum(r[6] for r in rows):>8.2f}{seed_ratio:>12.2f}x", flush=True)
    n = len(per_seed)
    print(f"\nover {n} seeds: gg recall mean {sum(s[1] for s in per_seed) / n:.3f} worst {min(s[1] for s in per_seed):.3f}; "
          f"CLI mean {sum(s[2] for s in per_seed) / n:.3f} worst {min(s[2] for s in per_seed):.3f}")
    ratios.sort()
    print(f"time gg / CLI per picture: median {ratios[len(ratios) // 2][0]:.2f}x, worst {ratios[-1][0]:.2f}x "
          f"({ratios[-1][1]}: {ratios[-1][2]})")
    print(f"\n{'kind':<12}{'pictures':>9}{'gg recall':>10}{'CLI recall':>11}{'gg s':>8}{'CLI s':>8}")
    for kind, items in per_kind.items():
        texts = [i for i in items if i[0] is not None]
        r = (f"{sum(i[0] for i in texts) / len(texts):>10.3f}{sum(i[1] for i in texts) / len(texts):>11.3f}" if texts
             else f"{'-':>10}{'-':>11}")
        print(f"{kind:<12}{len(items):>9}{r}{sum(i[2] for i in items):>8.2f}{sum(i[3] for i in items):>8.2f}")
    if worse:
        print("\npictures gg-ocr reads fewer words of than the CLI:")
        for name, kind, what, gr, cr, conf, note in worse:
            print(f"  {name:<14}{kind:<11}gg {gr:.2f} (conf {conf}) CLI {cr:.2f}  {what}  {note}")


if __name__ == "__main__":
    main()
