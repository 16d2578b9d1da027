/// The OpenAPI 3.1 description of gg-serve, served at GET /openapi.json (ServeTests validates it and
/// checks real responses against its schemas).
enum OpenAPI {
    static let document = #"""
{
  "openapi": "3.1.0",
  "info": {"title": "gg-serve", "version": "0.1.0",
           "description": "The gg pipeline (fetch, scenes, OCR, transcript) over HTTP; a drop-in for the Gilgamesh service with ?format=gilgamesh."},
  "servers": [{"url": "http://127.0.0.1:8500"}],
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "ProcessRequest": {
        "type": "object",
        "properties": {
          "urls": {"type": "array", "items": {"type": "string", "format": "uri"}, "minItems": 1},
          "url": {"type": "string", "format": "uri", "description": "one URL (the old single-URL body); the answer has result instead of results"},
          "encode_base64": {"type": ["boolean", "null"], "default": false},
          "cleanup_temp": {"type": ["boolean", "null"], "default": true},
          "threshold": {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "scene cut threshold on ffmpeg's scene score scale (0-1), passed to gg-scenes --threshold"},
          "engine": {"enum": ["auto", "whisper", "sphinx", null]},
          "language": {"type": ["string", "null"]},
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
          "error": {"$ref": "#/components/schemas/StageError"}
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
                                                "resolved_entries": {"type": "integer"}, "resolved_bytes": {"type": "integer"}}}}
      },
      "CacheClear": {
        "type": "object", "required": ["status", "removed"],
        "properties": {"status": {"enum": ["success", "error"]}, "message": {"type": "string"}, "removed": {"type": "integer"}, "detail": {"type": "string"}}
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
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProcessResponse"}},
                              "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/Result"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/TooMany"}
        }
      }
    },
    "/process/batch": {
      "post": {
        "summary": "The old batch endpoint: the same as /process for urls",
        "parameters": [{"$ref": "#/components/parameters/format"}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProcessRequest"}}}},
        "responses": {
          "200": {"description": "results", "content": {"application/json": {"schema": {"type": "object"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/TooMany"}
        }
      }
    },
    "/cache/stats": {
      "get": {"summary": "gg-fetch's cache statistics", "parameters": [{"$ref": "#/components/parameters/format"}],
              "responses": {"200": {"description": "statistics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CacheStats"}}}},
                            "401": {"$ref": "#/components/responses/Error"}}}
    },
    "/cache/clear": {
      "post": {"summary": "Remove cache entries (all, or older than older_than_hours)",
               "parameters": [{"name": "older_than_hours", "in": "query", "required": false, "schema": {"type": "number", "minimum": 0}}],
               "responses": {"200": {"description": "removed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CacheClear"}}}},
                             "401": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}
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
    "/openapi.json": {
      "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                                                         "401": {"$ref": "#/components/responses/Error"}}}
    }
  }
}
"""#
}
