#!/usr/bin/env python3
"""Validates NDJSON (or a {"results": [...]} document) on stdin against a schema in docs/schemas.
usage: validate.py SCHEMA-FILE [--array]. Prints one line per invalid record; exits 1 if any."""
import json, os, sys
import jsonschema

path = os.path.abspath(sys.argv[1])
folder = os.path.dirname(path)
schemas = {}
for name in os.listdir(folder):
    if name.endswith(".schema.json"):
        with open(os.path.join(folder, name)) as f:
            schemas[name] = json.load(f)
schema = schemas[os.path.basename(path)]
try:
    from referencing import Registry, Resource
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
except ImportError:
    store = {s["$id"]: s for s in schemas.values()}
    resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
    validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
text = sys.stdin.read()
documents = json.loads(text)["results"] if "--array" in sys.argv else [json.loads(l) for l in text.splitlines() if l.strip()]
bad = 0
for n, document in enumerate(documents, 1):
    for error in validator.iter_errors(document):
        bad += 1
        print(f"record {n}: {'/'.join(map(str, error.absolute_path))}: {error.message[:300]}")
print(f"{len(documents)} records, {bad} problems", file=sys.stderr)
sys.exit(1 if bad or not documents else 0)
