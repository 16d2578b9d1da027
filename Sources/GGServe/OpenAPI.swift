/// The OpenAPI 3.1 description of gg-serve, served at GET /openapi.json (ServeTests validates it and
/// checks real responses against its schemas).
enum OpenAPI {
    static let document = #"""
{
  "openapi": "3.1.0",
  "info": {"title": "gg-serve", "version": "0.1.0",
           "description": "The gg pipeline (fetch, scenes, OCR, transcript) over HTTP; a drop-in for the Gilgamesh service with ?format=gilgamesh or gg-serve --format gilgamesh. Every endpoint answers CORS preflights (OPTIONS, 204) without a token; the allowed origins are --cors-origin's."},
  "servers": [{"url": "http://127.0.0.1:8500"}],
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "ProcessRequest": {
        "type": "object",
        "properties": {
          "urls": {"type": "array", "items": {"type": "string", "format": "uri"}, "minItems": 1},
          "url": {"type": "string", "format": "uri", "description": "one URL (the old single-URL body); the answer has result instead of results"},
          "encode_base64": {"type": ["boolean", "null"], "description": "per-scene clips as base64; default false in gg's format, true in the old one"},
          "cleanup_temp": {"type": ["boolean", "null"], "default": true},
          "threshold": {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "scene cut threshold on ffmpeg's scene score scale (0-1), passed to gg-scenes --threshold"},
          "engine": {"enum": ["auto", "whisper", "sphinx", null]},
          "language": {"type": ["string", "null"], "description": "spoken language code for gg-transcribe --language; default auto: detected per window of speech"},
          "format": {"enum": ["gg", "gilgamesh"]}
        }
      },
      "StageError": {
        "type": "object", "required": ["stage", "kind", "message", "retryable"],
        "properties": {"stage": {"type": "string"}, "kind": {"type": "string"}, "message": {"type": "string"}, "retryable": {"type": "boolean"}}
      },
      "Result": {
        "type": "object", "required": ["url", "status", "videos", "images", "audio"],
        "properties": {
          "id": {"type": "string"}, "url": {"type": "string"}, "status": {"enum": ["success", "error"]}, "kind": {"type": "string"},
          "title": {"type": "string"}, "description": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
          "uploader": {"type": "string"}, "uploaded": {"type": "string"}, "page_url": {"type": "string"}, "duration": {"type": "number"},
          "videos": {"type": "array", "items": {"type": "object"}}, "images": {"type": "array", "items": {"type": "object"}},
          "audio": {"type": "array", "items": {"type": "object"}}, "warnings": {"type": "array", "items": {"type": "string"}},
          "error": {"$ref": "#/components/schemas/StageError"},
          "result_cache": {"const": "hit", "description": "the result came from the result cache, not the pipeline"}
        }
      },
      "ProcessResponse": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"const": "success"}, "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                       "result": {"$ref": "#/components/schemas/Result"}}
      },
      "Error": {
        "type": "object", "required": ["status", "detail"],
        "properties": {"status": {"const": "error"}, "detail": {"type": "string"}, "field": {"type": "string"}}
      },
      "CacheStats": {
        "type": "object", "required": ["status", "stats"],
        "properties": {"status": {"const": "success"},
                       "stats": {"type": "object", "required": ["entries", "bytes", "ttl_seconds", "dir"],
                                 "properties": {"entries": {"type": "integer"}, "bytes": {"type": "integer"}, "oldest": {"type": "string"},
                                                "newest": {"type": "string"}, "ttl_seconds": {"type": "number"}, "dir": {"type": "string"},
                                                "max_bytes": {"type": "integer"}, "free_bytes": {"type": "integer"},
                                                "resolved_entries": {"type": "integer"}, "resolved_bytes": {"type": "integer"},
                                                "result_entries": {"type": "integer"}, "result_bytes": {"type": "integer"}}}}
      },
      "CacheClear": {
        "type": "object", "required": ["status", "removed"],
        "properties": {"status": {"enum": ["success", "error"]}, "message": {"type": "string"}, "removed": {"type": "integer"}, "detail": {"type": "string"}}
      },
      "GilgameshResult": {
        "description": "A result in the old service's shape; a failed URL is {status: error, error, url}",
        "anyOf": [
          {"type": "object", "required": ["status", "error", "url"], "additionalProperties": false,
           "properties": {"status": {"const": "error"}, "error": {"type": "string"}, "url": {"type": "string"}}},
          {"type": "object", "required": ["url", "title", "description", "tags"], "additionalProperties": false,
           "properties": {
             "url": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
             "tags": {"type": "array", "items": {"type": "string"}},
             "videos": {"type": "array", "items": {"type": "object", "required": ["id", "scenes", "transcript"], "additionalProperties": false,
               "properties": {
                 "id": {"type": "string"},
                 "scenes": {"type": "array", "items": {"type": "object", "required": ["start", "end", "text", "confidence"], "additionalProperties": false,
                   "properties": {"start": {"type": "number"}, "end": {"type": ["number", "null"]}, "text": {"type": "string"},
                                  "confidence": {"type": "number", "minimum": 0, "maximum": 1}, "video": {"type": ["string", "null"]}}}},
                 "transcript": {"type": "array", "items": {"type": "object", "required": ["start", "end", "text"], "additionalProperties": false,
                   "properties": {"start": {"type": "number"}, "end": {"type": "number"}, "text": {"type": "string"}}}}}}},
             "images": {"type": "array", "items": {"type": "object", "required": ["text"], "additionalProperties": false,
               "properties": {"text": {"type": "string"}}}}}}
        ]
      },
      "GilgameshResults": {
        "type": "object", "required": ["status", "results"], "additionalProperties": false,
        "properties": {"status": {"const": "success"}, "results": {"type": "array", "items": {"$ref": "#/components/schemas/GilgameshResult"}}}
      },
      "GilgameshSingle": {
        "type": "object", "required": ["status", "result"], "additionalProperties": false,
        "properties": {"status": {"const": "success"}, "result": {"$ref": "#/components/schemas/GilgameshResult"}}
      },
      "GilgameshBatch": {
        "type": "object", "required": ["status", "results", "errors"], "additionalProperties": false,
        "properties": {"status": {"const": "success"},
                       "results": {"type": "array", "items": {"type": "object", "required": ["status", "url", "result"], "additionalProperties": false,
                                   "properties": {"status": {"const": "success"}, "url": {"type": "string"}, "result": {"$ref": "#/components/schemas/GilgameshResult"}}}},
                       "errors": {"type": "array", "items": {"type": "object", "required": ["status", "url", "detail"], "additionalProperties": false,
                                  "properties": {"status": {"const": "error"}, "url": {"type": "string"}, "detail": {"type": "string"}}}}}
      },
      "OldDetail": {
        "description": "The old service's error: {detail: message}, or for no URLs {detail: {status: error, error}}",
        "type": "object", "required": ["detail"],
        "properties": {"detail": {"anyOf": [{"type": "string"},
                                            {"type": "object", "required": ["status", "error"], "properties": {"status": {"const": "error"}, "error": {"type": "string"}}}]}}
      },
      "ValidationError": {
        "description": "The old service's (FastAPI's) 422: what was wrong, and where in the body",
        "type": "object", "required": ["detail"],
        "properties": {"detail": {"type": "array", "items": {"type": "object", "required": ["loc", "msg", "type"],
                                  "properties": {"loc": {"type": "array", "items": {"type": ["string", "integer"]}}, "msg": {"type": "string"}, "type": {"type": "string"}}}}}
      },
      "OldCacheStats": {
        "type": "object", "required": ["total_entries", "total_size_bytes", "ttl_hours"],
        "properties": {"total_entries": {"type": "integer"}, "total_size_bytes": {"type": "integer"}, "oldest_entry": {"type": ["string", "null"]},
                       "newest_entry": {"type": ["string", "null"]}, "ttl_hours": {"type": "number"}}
      },
      "OldCacheStatsV2": {
        "type": "object", "required": ["status", "stats"],
        "properties": {"status": {"const": "success"}, "stats": {"$ref": "#/components/schemas/OldCacheStats"}}
      },
      "Cleanup": {
        "type": "object", "required": ["status", "message", "cache_cleared"],
        "properties": {"status": {"const": "success"}, "message": {"type": "string"}, "removed_folders": {"type": "integer"}, "cache_cleared": {"type": "boolean"}}
      },
      "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "healthy"}, "service": {"type": "string"}}},
      "Ready": {
        "type": "object", "required": ["status", "checks"],
        "properties": {"status": {"enum": ["ready", "not_ready"]},
                       "checks": {"type": "object", "properties": {"speech_engine": {"enum": ["whisper", "sphinx", "none", "unknown"]}}}}
      }
    },
    "responses": {
      "Error": {"description": "a JSON error naming the problem", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooMany": {"description": "over --max-concurrent and --queue; retry after the Retry-After seconds",
                  "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "parameters": {
      "format": {"name": "format", "in": "query", "required": false, "schema": {"enum": ["gg", "gilgamesh"]}}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/process": {
      "post": {
        "summary": "Process URLs: one result per URL, in request order",
        "parameters": [{"$ref": "#/components/parameters/format"}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProcessRequest"}}}},
        "responses": {
          "200": {"description": "results (with Accept: application/x-ndjson, one result line per URL, streamed)",
                  "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/ProcessResponse"},
                                                                        {"$ref": "#/components/schemas/GilgameshResults"},
                                                                        {"$ref": "#/components/schemas/GilgameshSingle"}]}},
                              "application/x-ndjson": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Result"},
                                                                            {"$ref": "#/components/schemas/GilgameshResult"}]}}}},
          "400": {"description": "gg: a JSON error; the old format: no URLs, or (one url) an unsupported URL",
                  "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/OldDetail"}]}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"description": "a field is wrong: gg's error naming it, or the old format's list",
                  "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/ValidationError"}]}}}},
          "429": {"$ref": "#/components/responses/TooMany"},
          "500": {"description": "the old format, one url: processing failed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OldDetail"}}}}
        }
      },
      "options": {"summary": "CORS preflight", "security": [], "responses": {"204": {"description": "the methods, and the CORS headers for an allowed origin"}}}
    },
    "/process/batch": {
      "post": {
        "summary": "The old batch endpoint: the same as /process for urls; the old format splits results and errors",
        "parameters": [{"$ref": "#/components/parameters/format"}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProcessRequest"}}}},
        "responses": {
          "200": {"description": "results",
                  "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/ProcessResponse"}, {"$ref": "#/components/schemas/GilgameshBatch"}]}}}},
          "400": {"description": "no URLs", "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/OldDetail"}]}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"description": "a field is wrong",
                  "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/ValidationError"}]}}}},
          "429": {"$ref": "#/components/responses/TooMany"}
        }
      }
    },
    "/cleanup": {
      "post": {"summary": "Remove the work folders requests kept (cleanup_temp false), and with clear_cache the cache",
               "parameters": [{"name": "clear_cache", "in": "query", "required": false, "schema": {"type": "boolean"}}],
               "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object",
                               "properties": {"clear_cache": {"type": "boolean"}, "clear_cache_data": {"type": "boolean"}}}}}},
               "responses": {"200": {"description": "done", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cleanup"}}}},
                             "401": {"$ref": "#/components/responses/Error"}}}
    },
    "/cache/stats": {
      "get": {"summary": "gg-fetch's cache statistics (the old format: unwrapped with --gilgamesh-api 1, {status, stats} with 2)",
              "parameters": [{"$ref": "#/components/parameters/format"}],
              "responses": {"200": {"description": "statistics",
                                    "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/CacheStats"},
                                                                                          {"$ref": "#/components/schemas/OldCacheStats"},
                                                                                          {"$ref": "#/components/schemas/OldCacheStatsV2"}]}}}},
                            "401": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}
    },
    "/cache/clear": {
      "post": {"summary": "Remove cache entries (all, or older than older_than_hours)",
               "parameters": [{"name": "older_than_hours", "in": "query", "required": false, "schema": {"type": "number", "minimum": 0}}],
               "responses": {"200": {"description": "removed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CacheClear"}}}},
                             "401": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"},
                             "500": {"description": "entries could not be removed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CacheClear"}}}},
                             "503": {"$ref": "#/components/responses/Error"}}}
    },
    "/health": {
      "get": {"summary": "Liveness", "security": [],
              "responses": {"200": {"description": "up", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}}
    },
    "/ready": {
      "get": {"summary": "Readiness: stage binaries, Tesseract data and the speech engine", "security": [],
              "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}},
                            "503": {"description": "not ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}}}}
    },
    "/metrics": {
      "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                                             "401": {"$ref": "#/components/responses/Error"}}}
    },
    "/artefacts/{request}/{path}": {
      "get": {"summary": "A file of a request that kept its folder (cleanup_temp false): results name kept keyframes, clips and images by these URLs, never by server paths; folders expire after --keep-ttl and /cleanup removes them",
              "parameters": [{"name": "request", "in": "path", "required": true, "schema": {"type": "string"}},
                             {"name": "path", "in": "path", "required": true, "schema": {"type": "string"}}],
              "responses": {"200": {"description": "the file", "content": {"image/jpeg": {"schema": {"type": "string"}}, "image/png": {"schema": {"type": "string"}},
                                                                           "video/mp4": {"schema": {"type": "string"}}, "application/octet-stream": {"schema": {"type": "string"}}}},
                            "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}
    },
    "/docs": {
      "get": {"summary": "This description as a page a person can read (self-contained HTML)", "security": [],
              "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}
    },
    "/openapi.json": {
      "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                                                         "401": {"$ref": "#/components/responses/Error"}}}
    }
  }
}
"""#
}
