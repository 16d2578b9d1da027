#!/usr/bin/env python3
"""Checks gg-serve's OpenAPI document and responses against it.
  openapi_check.py DOC.json                   the document is valid OpenAPI 3.1 (openapi-spec-validator)
  openapi_check.py DOC.json SCHEMA < x.json   x.json matches components/schemas/SCHEMA
  openapi_check.py --schema FILE < x.json     x.json matches the JSON Schema in FILE"""
import json, sys
import jsonschema

if sys.argv[1] == "--schema":
    schema = json.load(open(sys.argv[2]))
    jsonschema.Draft202012Validator(schema).validate(json.load(sys.stdin))
    sys.exit(0)
doc = json.load(open(sys.argv[1]))
if len(sys.argv) == 2:
    from openapi_spec_validator import validate
    validate(doc)
    sys.exit(0)
schema = dict(doc)
schema["$ref"] = "#/components/schemas/" + sys.argv[2]
jsonschema.Draft202012Validator(schema).validate(json.load(sys.stdin))
