#!/usr/bin/env python3
"""gg-ocr against the tesseract CLI on real pictures of text that ship inside Debian and PyPI packages, with
their texts written by hand (issue 36): a phone photo of a printed page (scikit-image's page.png, 0.07 MP,
grey, curved and unevenly lit) and four dialog screenshots from the GIMP manual (gimp-help-en: small UI
text, fields, buttons, icons). Each package is pinned by sha256 and downloaded once into bench/out/realpics/.

Per picture, one process each (gg-ocr with its defaults, `tesseract IMG stdout` with its defaults, both
told nothing about the picture): word recall against the hand-written text, the share of read words that are
in it (precision: junk lowers it), gg's confidence and note, and the time of each, best of --runs N (default 2)."""
import json, os, sys
from common import OUT, BIN, READ, best_of, require_release, pinned_download, package_member, recall_precision

require_release()
PICS = os.path.join(OUT, "realpics")
PACKAGES = os.path.join(PICS, "packages")
SKIMAGE = ("scikit_image-0.24.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
           "fa27b3a0dbad807b966b8db2d78da734cb812ca4787f7fbb143764800ce2fa9c",
           [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", "--python-version", "3.11",
            "--platform", "manylinux2014_x86_64", "-d", ".", "scikit-image==0.24.0"])
GIMP = ("gimp-help-en_2.10.34-2_all.deb", "a2deec76763aaf2fcdd197bac0736cdcb0770ba993d48d233329e1c92b0bfe36",
        ["apt-get", "download", "gimp-help-en=2.10.34-2"])
IMAGES = "usr/share/gimp/2.0/help/en/images/"
# picture: (package, path inside it, its text as written by hand)
PICTURES = {
    "page.png": (SKIMAGE, "skimage/data/page.png",
                 "Region-based segmentation Let us first determine markers of the coins and the background. These "
                 "markers are pixels that we can label unambiguously as either object or background. Here, the markers "
                 "are found at the two extreme parts of the histogram of grey values: >>> markers = np.zeros_like(coins)"),
    "border.png": (GIMP, IMAGES + "menus/select/border.png",
                   "Border selection by 10 px Border style Hard Selected areas continue outside the image Help Cancel OK"),
    "brightness-contrast-dialog.png": (GIMP, IMAGES + "menus/colors/brightness-contrast-dialog.png",
                                       "Adjust Brightness and Contrast fly-agaric-2817723_960_720.jpg-2 ([fly-agaric-28177 "
                                       "Presets: Brightness 0 Contrast 0 Edit these Settings as Levels Preview Split view"),
    "shear-dialog.png": (GIMP, IMAGES + "toolbox/shear-dialog.png",
                         "Shear Transform: Direction Normal (Forward) Corrective (Backward) Interpolation Cubic Clipping "
                         "Adjust Show image preview Image opacity 100,0 Guides No guides"),
    "configure-grid.png": (GIMP, IMAGES + "menus/image/configure-grid.png",
                           "Configure Image Grid soleil.png-1 Appearance Line style: Intersections (crosshairs) Foreground "
                           "color: Background color: Spacing Width Height 32 32 Pixels 0.444 0.444 in Offset Width Height "
                           "0 0 Pixels 0.000 0.000 in Reset OK Cancel"),
}


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 2
    os.makedirs(PICS, exist_ok=True)
    cli_env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    print(f"{'picture':<32}{'gg recall':>10}{'gg prec':>9}{'gg conf':>9}{'CLI recall':>11}{'CLI prec':>9}"
          f"{'gg s':>7}{'CLI s':>7}{'ratio':>7}  gg note")
    totals = []
    for name, (package, inner, truth) in PICTURES.items():
        path = os.path.join(PICS, name)
        if not os.path.exists(path):
            open(path, "wb").write(package_member(pinned_download(PACKAGES, *package), inner))
        record = json.dumps({"id": "real", "url": "x", "items": [{"index": 0, "type": "image", "path": path}]})
        gg_s, gg = best_of(runs, [os.path.join(BIN, "gg-ocr"), "--work-dir", os.path.join(OUT, "work-realpics"), *READ],
                        input=record)
        item = json.loads(gg.stdout)["items"][0]
        cli_s, cli = best_of(runs, ["tesseract", path, "stdout"], env=cli_env)
        gg_r, gg_p = recall_precision(item.get("text", ""), truth)
        cli_r, cli_p = recall_precision(cli.stdout, truth)
        totals.append((gg_r, cli_r, gg_s / cli_s))
        note = "; ".join(item.get("warnings", []))
        print(f"{name:<32}{gg_r:>10.3f}{gg_p:>9.3f}{item.get('confidence', 0):>9.1f}{cli_r:>11.3f}{cli_p:>9.3f}"
              f"{gg_s:>7.2f}{cli_s:>7.2f}{gg_s / cli_s:>7.2f}  {note.split(':')[0] if note else ''}")
    n = len(totals)
    print(f"mean recall gg {sum(t[0] for t in totals) / n:.3f} (worst {min(t[0] for t in totals):.3f}), CLI "
          f"{sum(t[1] for t in totals) / n:.3f} (worst {min(t[1] for t in totals):.3f}); time ratio worst {max(t[2] for t in totals):.2f}x")


if __name__ == "__main__":
    main()
