#!/usr/bin/env python3
"""The obvious Python glue of gg's peers for one URL, as the old service ran it (one process per URL):
yt-dlp downloads, PySceneDetect's ContentDetector finds the cuts, the middle frame of each scene goes to
the tesseract CLI, faster-whisper (the same multilingual base as gg, int8, default beam 5, language detected) transcribes.
usage: peer_glue.py OUT-DIR URL  (writes OUT-DIR/<url as a file name>.json)"""
import json, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YT_DLP = os.path.join(ROOT, ".tools", "venv", "bin", "yt-dlp")
MODEL = os.path.join(ROOT, ".whisper", "models", "base")
out_dir, url = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="glue-")
subprocess.run([YT_DLP, "--ignore-config", "-q", "--no-progress", "-o", os.path.join(work, "media.%(ext)s"), url], check=True)
path = os.path.join(work, next(f for f in os.listdir(work) if f.startswith("media.")))
result = {"url": url, "cuts": [], "text": "", "transcript": ""}
if path.endswith((".jpg", ".jpeg", ".png", ".webp")):
    result["text"] = subprocess.run(["tesseract", path, "stdout"], capture_output=True, text=True).stdout
else:
    import cv2
    from scenedetect import detect, ContentDetector
    scenes = detect(path, ContentDetector())
    result["cuts"] = [start.get_seconds() for start, _ in scenes[1:]]
    capture = cv2.VideoCapture(path)
    if not scenes:
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        middles = [frames // 2]
    else:
        middles = [(start.get_frames() + end.get_frames()) // 2 for start, end in scenes]
    texts = []
    for n, frame_number in enumerate(middles):
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame_number)
        ok, frame = capture.read()
        if ok:
            keyframe = os.path.join(work, f"scene-{n}.jpg")
            cv2.imwrite(keyframe, frame)
            texts.append(subprocess.run(["tesseract", keyframe, "stdout"], capture_output=True, text=True).stdout)
    result["text"] = " ".join(texts)
    from faster_whisper import WhisperModel
    model = WhisperModel(MODEL, device="cpu", compute_type="int8")
    segments, _ = model.transcribe(path)
    result["transcript"] = " ".join(s.text.strip() for s in segments)
with open(os.path.join(out_dir, re.sub(r"[^A-Za-z0-9.-]", "_", url) + ".json"), "w") as f:
    json.dump(result, f)
