#!/usr/bin/env python3
"""Checks gg-serve's OpenAPI document and responses against it.
  openapi_check.py DOC.json                   the document is valid OpenAPI 3.1 (openapi-spec-validator)
  openapi_check.py DOC.json SCHEMA < x.json   x.json matches components/schemas/SCHEMA
  openapi_check.py --schema FILE < x.json     x.json matches the JSON Schema in FILE
  openapi_check.py DOC.json --answer PATH METHOD STATUS TYPE < x
                                              x is an answer the document describes: PATH's METHOD has a
                                              STATUS response with content TYPE whose schema x matches
                                              (an NDJSON answer: every line)"""
import json, sys
import jsonschema

if sys.argv[1] == "--schema":
    schema = json.load(open(sys.argv[2]))
    jsonschema.Draft202012Validator(schema).validate(json.load(sys.stdin))
    sys.exit(0)
doc = json.load(open(sys.argv[1]))
if len(sys.argv) > 2 and sys.argv[2] == "--answer":
    path, method, status, ctype = sys.argv[3:7]
    operation = doc["paths"][path][method.lower()]
    response = operation["responses"].get(status)
    if response is None:
        sys.exit(f"{method} {path}: no {status} response in the document")
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    body = sys.stdin.read()
    if "content" not in response:
        sys.exit(0 if not body.strip() else f"{method} {path} {status}: the document has no content, the answer has {body[:80]!r}")
    content = response["content"].get(ctype)
    if content is None:
        sys.exit(f"{method} {path} {status}: no {ctype} content in the document")
    schema = dict(doc)
    schema.update(content["schema"])
    validator = jsonschema.Draft202012Validator(schema)
    values = [json.loads(line) for line in body.splitlines()] if ctype == "application/x-ndjson" else \
        [json.loads(body)] if ctype.startswith("application/json") else [body]
    for value in values:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error:
            sys.exit(f"{method} {path} {status} {ctype}: {error.message} at {list(error.absolute_path)}")
    sys.exit(0)
if len(sys.argv) == 2:
    from openapi_spec_validator import validate
    validate(doc)
    sys.exit(0)
schema = dict(doc)
schema["$ref"] = "#/components/schemas/" + sys.argv[2]
jsonschema.Draft202012Validator(schema).validate(json.load(sys.stdin))
