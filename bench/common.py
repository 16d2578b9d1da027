"""Helpers shared by the gg benchmarks: media generation, timing, peak memory."""
import os, resource, subprocess, sys, time

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
