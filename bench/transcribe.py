#!/usr/bin/env python3
"""gg-transcribe against its peers on the same audio, with ratios:
  whisper engine vs faster-whisper (PyPI) running the same tiny.en weights (the CTranslate2 folder that
  scripts/setup-whisper converted gg's ggml model from), greedy and with its default beam of 5;
  sphinx engine vs pocketsphinx_continuous.
Inputs: Debian's pocketsphinx-testdata LibriVox recordings joined four times with 1 s pauses (119 s,
references from the package), the espeak-ng long.wav fixture (eight sentences over 52 s) and the
paragraph.wav fixture (43 s of speech without a pause long enough to cut at).
Times are whole processes (start, model load, decode, recognise), best of 3; WER on normalised words."""
import json, os, re, subprocess, sys
from common import OUT, BIN, ROOT, READ, ffmpeg, timed, row, require_release, wer

require_release()
MODEL_DIR = os.path.join(ROOT, ".whisper", "models")
GGML = os.path.join(MODEL_DIR, "ggml-tiny.en-q8_0.bin")
CT2 = os.path.join(MODEL_DIR, "tiny.en")
if not os.path.exists(GGML):
    sys.exit("run scripts/setup-whisper first")
try:
    import faster_whisper  # noqa: F401
except ImportError:
    sys.exit("install the peer first: python3 -m pip install faster-whisper")
subprocess.run([os.path.join(ROOT, "scripts", "make-fixtures")], check=True)
GGML_F16 = os.path.join(OUT, "ggml-tiny.en-f16.bin")
if not os.path.exists(GGML_F16):
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "whisper-model.py"), "--type", "f16", CT2, GGML_F16], check=True, stdout=subprocess.DEVNULL)

DATA = "/usr/share/pocketsphinx/test/data/librivox"
refs = {}
for line in open(os.path.join(DATA, "transcription")):
    text, _, name = line.strip().rpartition(" (")
    refs[name.rstrip(")")] = " ".join(w for w in text.split() if w not in ("<s>", "</s>"))
names = sorted(refs)
clips = [os.path.join(DATA, n + ".wav") for n in names] * 4
libri = os.path.join(OUT, "librivox-x4.wav")
if not os.path.exists(libri):
    inputs = [a for c in clips for a in ("-i", c)]
    pads = "".join(f"[{i}:a]apad=pad_dur=1[a{i}];" for i in range(len(clips)))
    ffmpeg(*inputs, "-filter_complex", pads + "".join(f"[a{i}]" for i in range(len(clips))) + f"concat=n={len(clips)}:v=0:a=1",
           "-ar", "16000", "-ac", "1", libri)
fixtures = os.path.join(ROOT, ".fixtures")
sentences = [line.split("\t", 1)[1].strip() for line in open(os.path.join(fixtures, "sentences.txt"))]
INPUTS = [("LibriVox x4", libri, " ".join([" ".join(refs[n] for n in names)] * 4)),
          ("espeak-ng sentences", os.path.join(fixtures, "long.wav"), " ".join(sentences)),
          ("espeak-ng paragraph, no pause to cut at", os.path.join(fixtures, "paragraph.wav"), open(os.path.join(fixtures, "paragraph.txt")).read())]

FASTER_WHISPER = """
import sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type=sys.argv[3], cpu_threads=2)
segments, _ = model.transcribe(sys.argv[2], beam_size=int(sys.argv[4]), language="en")
print(" ".join(s.text.strip() for s in segments))
"""


def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path], capture_output=True, text=True)
    return float(out.stdout)


def best(cmd, text_of, runs=3, **kw):
    """Best time of `runs`, the peak RSS of the command (GNU time), and its text."""
    results = [timed(["/usr/bin/time", "-f", "%M", *cmd], **kw) for _ in range(runs)]
    proc = results[-1][2]
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {proc.stderr}")
    peak = max(int(r[2].stderr.strip().splitlines()[-1]) for r in results) / 1024
    return min(r[0] for r in results), peak, text_of(proc)


def gg(path, *args):
    record = json.dumps({"id": "asr", "url": "x", "items": [{"index": 0, "type": "audio", "path": path}]})
    cmd = [os.path.join(BIN, "gg-transcribe"), "--work-dir", os.path.join(OUT, "work"), *READ, *args]
    return best(cmd, lambda p: json.loads(p.stdout)["items"][0]["transcript"]["text"], input=record)


def faster_whisper_run(path, compute, beam):
    return best([sys.executable, "-c", FASTER_WHISPER, CT2, path, compute, str(beam)], lambda p: p.stdout.strip())


def pocketsphinx(path):
    """pocketsphinx_continuous reads 16 kHz mono WAV only: other inputs are converted first (untimed)."""
    rate = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", path], capture_output=True, text=True)
    if rate.stdout.strip() != "16000":
        converted = os.path.join(OUT, os.path.basename(path) + ".16k.wav")
        ffmpeg("-i", path, "-ar", "16000", "-ac", "1", converted)
        path = converted
    return best(["pocketsphinx_continuous", "-infile", path, "-logfn", "/dev/null"], lambda p: " ".join(p.stdout.split()))


print("2 cores; tiny.en for both whisper implementations (gg: 8-bit q8_0 ggml, faster-whisper: int8 or float32);")
print("seconds are whole processes, best of 3\n")
summary = []
for label, path, reference in INPUTS:
    seconds_of_audio = duration(path)
    print(f"{label}: {seconds_of_audio:.1f} s of audio")
    row("", "seconds", "RTF", "WER", "peak MiB")
    results = {}
    for name, run in [("faster-whisper int8 greedy", lambda: faster_whisper_run(path, "int8", 1)),
                      ("faster-whisper float32 greedy", lambda: faster_whisper_run(path, "float32", 1)),
                      ("faster-whisper int8 beam 5 (default)", lambda: faster_whisper_run(path, "int8", 5)),
                      ("gg-transcribe --engine whisper", lambda: gg(path, "--engine", "whisper", "--model", GGML)),
                      ("gg-transcribe whisper --beam 1", lambda: gg(path, "--engine", "whisper", "--model", GGML, "--beam", "1")),
                      ("gg-transcribe whisper, f16 model", lambda: gg(path, "--engine", "whisper", "--model", GGML_F16)),
                      ("pocketsphinx_continuous", lambda: pocketsphinx(path)),
                      ("gg-transcribe --engine sphinx", lambda: gg(path, "--engine", "sphinx"))]:
        seconds, peak, text = run()
        results[name] = (seconds, wer(reference, text))
        row(name, f"{seconds:.2f}", f"{seconds / seconds_of_audio:.3f}", f"{results[name][1]:.3f}", f"{peak:.0f}")
    gg_s, gg_wer = results["gg-transcribe --engine whisper"]
    for peer in ("faster-whisper int8 greedy", "faster-whisper float32 greedy", "faster-whisper int8 beam 5 (default)"):
        s, w = results[peer]
        print(f"  RTF {peer} / gg whisper: {s / gg_s:.2f}x   WER gg - peer: {gg_wer - w:+.3f}")
    s, w = results["pocketsphinx_continuous"]
    ps_s, ps_wer = results["gg-transcribe --engine sphinx"]
    print(f"  RTF pocketsphinx_continuous / gg sphinx: {s / ps_s:.2f}x   WER gg - peer: {ps_wer - w:+.3f}\n")
