#!/usr/bin/env python3
"""gg-transcribe (sphinx engine) vs pocketsphinx_continuous on Debian's pocketsphinx-testdata
LibriVox recordings: real-time factor and word error rate of both, with ratios. (The whisper
engine and its comparison with faster-whisper are not built yet; see bench/README.md.)"""
import json, os, subprocess, time
from common import OUT, BIN, row, require_release

require_release()
DATA = "/usr/share/pocketsphinx/test/data/librivox"
refs = {}
for line in open(os.path.join(DATA, "transcription")):
    text, _, name = line.strip().rpartition(" (")
    refs[name.rstrip(")")] = " ".join(w for w in text.split() if w not in ("<s>", "</s>"))
names = sorted(refs)
wavs = [os.path.join(DATA, n + ".wav") for n in names]
audio_seconds = 0.0
for w in wavs:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", w], capture_output=True, text=True).stdout
    audio_seconds += float(out)


def wer(ref, hyp):
    r, h = ref.lower().split(), hyp.lower().split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / len(r)


reference = " ".join(refs[n] for n in names)
record = json.dumps({"id": "asr", "url": "x", "items": [{"index": i, "type": "audio", "path": w} for i, w in enumerate(wavs)]})
start = time.perf_counter()
proc = subprocess.run([os.path.join(BIN, "gg-transcribe"), "--jobs", "2", "--work-dir", os.path.join(OUT, "work")], input=record, capture_output=True, text=True)
gg_s = time.perf_counter() - start
gg_text = " ".join(it["transcript"]["text"] for it in json.loads(proc.stdout)["items"])

start = time.perf_counter()
cli_text = " ".join(subprocess.run(["pocketsphinx_continuous", "-infile", w, "-logfn", "/dev/null"], capture_output=True, text=True).stdout.strip() for w in wavs)
cli_s = time.perf_counter() - start

print(f"input: {len(wavs)} LibriVox recordings, {audio_seconds:.1f} s of speech, 2 cores")
row("", "seconds", "RTF", "WER")
row("pocketsphinx_continuous (per file)", f"{cli_s:.2f}", f"{cli_s / audio_seconds:.3f}", f"{wer(reference, cli_text):.3f}")
row("gg-transcribe --engine sphinx", f"{gg_s:.2f}", f"{gg_s / audio_seconds:.3f}", f"{wer(reference, gg_text):.3f}")
print()
print(f"RTF pocketsphinx CLI / gg-transcribe: {cli_s / gg_s:.2f}x")
print(f"WER gg-transcribe - pocketsphinx CLI: {wer(reference, gg_text) - wer(reference, cli_text):+.3f}")
