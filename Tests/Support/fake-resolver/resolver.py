#!/usr/bin/env python3
"""A stand-in for yt-dlp and gallery-dl in gg-fetch's tests: run as (a link named) yt-dlp or gallery-dl,
it answers a page URL with the recorded output for it in cases.json, shaped like the real tool's
(`yt-dlp -J`, `gallery-dl -j`), with $BASE replaced by $FAKE_BASE (the 127.0.0.1 test server) and $CALL by
how often this tool was asked for this URL. `yt-dlp --load-info-json` is handed to the real yt-dlp
($FAKE_REAL_YTDLP), so downloads and merges are yt-dlp's own. Every call is logged to $FAKE_LOG."""
import json, os, sys

tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
if "--version" in args:
    print(f"fake-{tool} 1.0")
    sys.exit(0)
log = os.environ.get("FAKE_LOG")
if log:
    with open(log, "a") as f:
        f.write(json.dumps({"tool": tool, "args": args, "cwd": os.getcwd()}) + "\n")
if "--load-info-json" in args:
    real = os.environ.get("FAKE_REAL_YTDLP")
    if not real:
        print("ERROR: fake resolver: FAKE_REAL_YTDLP is not set", file=sys.stderr)
        sys.exit(2)
    os.execv(real, [real] + args)
url = args[args.index("--") + 1] if "--" in args else args[-1]
calls = 0
if log:
    with open(log) as f:
        calls = sum(1 for line in f if (e := json.loads(line))["tool"] == tool and url in e["args"])
with open(os.path.join(os.path.dirname(os.path.realpath(__file__)), "cases.json")) as f:
    text = f.read().replace("$BASE", os.environ.get("FAKE_BASE", "http://127.0.0.1:1")).replace("$CALL", str(calls))
case = json.loads(text).get(url, {}).get(tool)
if case is None:
    print(f"ERROR: Unsupported URL: {url}" if tool == "yt-dlp" else f"[gallery-dl][error] Unsupported URL '{url}'", file=sys.stderr)
    sys.exit(1 if tool == "yt-dlp" else 64)
if "json" in case:
    print(json.dumps(case["json"], indent=None if tool == "yt-dlp" else 2))
if "stderr" in case:
    print(case["stderr"], file=sys.stderr)
sys.exit(case.get("status", 0))
