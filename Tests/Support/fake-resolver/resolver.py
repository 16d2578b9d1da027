#!/usr/bin/env python3
"""A stand-in for yt-dlp and gallery-dl in gg-fetch's tests: run as (a link named) yt-dlp or gallery-dl,
it answers a page URL with the recorded output for it in cases.json, shaped like the real tool's
(`yt-dlp -J`, `gallery-dl -j`), with $BASE replaced by the test server's base URL and $CALL by how often
this tool was asked for this URL. `yt-dlp --load-info-json` is handed to the real yt-dlp, so downloads and
merges are yt-dlp's own. Every call is logged. Its settings come from fake.json beside the link it runs as
({"base", "log", "real_ytdlp"}): gg-fetch hands resolvers an allow-listed environment, not the test's."""
import json, os, sys

tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
try:
    with open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "fake.json")) as f:
        settings = json.load(f)
except OSError:
    settings = {}
if "--version" in args:
    print(f"fake-{tool} 1.0")
    sys.exit(0)
log = settings.get("log")
if log:
    with open(log, "a") as f:
        f.write(json.dumps({"tool": tool, "args": args, "cwd": os.getcwd()}) + "\n")
if "--load-info-json" in args:
    real = settings.get("real_ytdlp")
    if not real:
        print("ERROR: fake resolver: fake.json names no real_ytdlp", file=sys.stderr)
        sys.exit(2)
    os.execv(real, [real] + args)
url = args[args.index("--") + 1] if "--" in args else args[-1]
calls = 0
if log:
    with open(log) as f:
        calls = sum(1 for line in f if (e := json.loads(line))["tool"] == tool and url in e["args"])
with open(os.path.join(os.path.dirname(os.path.realpath(__file__)), "cases.json")) as f:
    text = f.read().replace("$BASE", settings.get("base", "http://127.0.0.1:1")).replace("$CALL", str(calls))
case = json.loads(text).get(url, {}).get(tool)
if case is None:
    print(f"ERROR: Unsupported URL: {url}" if tool == "yt-dlp" else f"[gallery-dl][error] Unsupported URL '{url}'", file=sys.stderr)
    sys.exit(1 if tool == "yt-dlp" else 64)
if "json" in case:
    print(json.dumps(case["json"], indent=None if tool == "yt-dlp" else 2))
if "stderr" in case:
    print(case["stderr"], file=sys.stderr)
sys.exit(case.get("status", 0))
