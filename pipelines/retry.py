#!/usr/bin/env python3
"""`make retry` for pipelines/Makefile.
  retry.py select URLS RESULTS RETRY-DIR   writes RETRY-DIR/urls.txt: the URL lines whose results are
      retryable errors, each at its original line number (the other lines blank, so ids and diagnostics
      are those of the first run), RETRY-DIR/copy-lines (gg-fetch's --copy-lines option, or nothing), RETRY-DIR/count
  retry.py merge WORK RETRY-DIR STAGE...  puts each stage's retried records in their places in WORK,
      stage by stage in pipeline order"""
import json, os, sys


def records(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def url_lines(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, [n for n, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]


def select(urls, results, retry):
    lines, numbered = url_lines(urls)
    found = records(results)
    chosen = [k for k, line in enumerate(found)
              if (r := json.loads(line)).get("status") == "error" and (r.get("error") or {}).get("retryable")]
    os.makedirs(retry, exist_ok=True)
    keep = {numbered[k] for k in chosen if k < len(numbered)}
    with open(os.path.join(retry, "urls.txt"), "w", encoding="utf-8") as f:
        f.writelines((line if n in keep else "") + "\n" for n, line in enumerate(lines))
    seen, copies = set(), []
    for n in numbered:
        url = lines[n].strip()
        if url in seen:
            copies.append(str(n + 1))
        seen.add(url)
    with open(os.path.join(retry, "copy-lines"), "w") as f:
        f.write("--copy-lines " + ",".join(copies) if copies else "")
    with open(os.path.join(retry, "chosen.json"), "w") as f:
        json.dump(chosen, f)
    with open(os.path.join(retry, "count"), "w") as f:
        f.write(str(len(chosen)))
    print(f"retry: {len(chosen)} URL(s) with retryable errors", file=sys.stderr)


def merge(work, retry, stages):
    with open(os.path.join(retry, "chosen.json")) as f:
        chosen = json.load(f)
    for stage in stages:
        target, redone = os.path.join(work, f"{stage}.ndjson"), os.path.join(retry, f"{stage}.ndjson")
        lines, new = records(target), records(redone)
        if len(new) != len(chosen):
            sys.exit(f"retry: {redone} has {len(new)} records for {len(chosen)} retried URLs")
        for k, line in zip(chosen, new):
            lines[k] = line
        with open(target + ".tmp", "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        os.replace(target + ".tmp", target)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "select":
        select(*sys.argv[2:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "merge":
        merge(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
