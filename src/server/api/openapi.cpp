// GET /api/openapi.json: the OpenAPI 3.0 description of every route ApiRouter serves. The paths
// are generated from the route table (each route's operation object, "security": [] for public
// ones); the shared components are written out as JSON below; limits and the security
// requirement come from the options, and the UI file names from the embedded assets. Keep the
// components in step with docs/API.md (tests check that every route appears and every $ref
// resolves).
#include "server/api/handlers.h"
#include "server/api/route_table.h"

namespace xrs::api {
namespace {

using json = nlohmann::json;

constexpr const char* kDocument = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "xray-search",
    "version": "1",
    "description": "Semantic X-ray image search: text-to-image and image-to-image retrieval with CLIP embeddings. Retrieval only; not for diagnosis. Every error is a 4xx/5xx status with an Error body. GET routes also answer HEAD."
  },
  "paths": {},
  "components": {
    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "Only when the server was started with an API token"}},
    "parameters": {
      "ImageId": {"name": "id", "in": "path", "required": true, "description": "An id from a search result (decimal digits)",
                  "schema": {"type": "integer", "format": "int64", "minimum": 0}}
    },
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
          "code": {"type": "string", "description": "invalid_argument, not_found, unsupported, resource_exhausted, failed_precondition, internal, ... or unauthenticated, method_not_allowed, unsupported_media_type, bad_request, length_required"},
          "message": {"type": "string", "description": "What is wrong, naming the field or file"}}}}
      },
      "Health": {
        "type": "object", "required": ["status", "images", "model", "categories", "auth_required", "originals", "limits"],
        "properties": {
          "status": {"type": "string", "enum": ["ok"]},
          "images": {"type": "integer", "description": "Images in the index"},
          "dim": {"type": "integer", "description": "The model's embedding dimension (what /api/search/embedding takes)"},
          "model": {"type": "string", "description": "Model name and SHA-256 prefix"},
          "categories": {"type": "array", "items": {"type": "string"}},
          "prompt_templates": {"type": "array", "items": {"type": "string"}, "description": "The model's prompt templates: a text query is embedded through each and the embeddings averaged (empty: as typed)"},
          "auth_required": {"type": "boolean"},
          "originals": {"type": "boolean", "description": "true: /api/images/{id} sends DICOM files as stored (with their patient data); false: as a PNG rendering"},
          "index": {"type": "object", "description": "The index generation served",
                    "properties": {"generation": {"type": "integer", "description": "The catalog's commit counter (meta.generation)"},
                                   "catalog_id": {"type": "string"},
                                   "read_only": {"type": "boolean", "description": "serve --read-only: a replica that switches to newer generations"},
                                   "reloads": {"type": "integer", "description": "Generations switched to since start"}}},
          "image_batching": {"type": "object", "description": "Concurrent image searches embedded in one forward pass (serve --batch-max-size, --batch-max-delay-ms)",
                             "properties": {"enabled": {"type": "boolean", "description": "false: each query image runs alone (--batch-max-size 1)"},
                                            "max_batch_size": {"type": "integer"},
                                            "max_delay_ms": {"type": "number", "description": "How long a query image that arrives while the engine is busy may wait for others"},
                                            "batches": {"type": "integer", "description": "Forward passes run since start"},
                                            "queries": {"type": "integer", "description": "Query images embedded in them"},
                                            "largest_batch": {"type": "integer"},
                                            "mean_batch_size": {"type": "number", "description": "queries / batches (0 before the first)"}}},
          "principal": {"type": "object", "description": "Only when the request carried a valid token",
                        "properties": {"name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}}},
          "limits": {"type": "object", "properties": {
            "k_default": {"type": "integer"}, "k_max": {"type": "integer"}, "offset_max": {"type": "integer"},
            "text_min_score": {"type": "number"}, "image_min_score": {"type": "number"}, "duplicate_min_score": {"type": "number"},
            "max_query_chars": {"type": "integer"}, "max_upload_bytes": {"type": "integer"},
            "requests_per_s": {"type": "number", "description": "per client; 0: no limit"},
            "request_burst": {"type": "number"},
            "uploads_per_client": {"type": "integer", "description": "uploads in flight per client; 0: no limit"}}}
        }
      },
      "TextSearchRequest": {
        "type": "object", "required": ["query"], "additionalProperties": false,
        "properties": {
          "query": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "Non-blank UTF-8 text; the limit counts code points"},
          "k": {"$ref": "#/components/schemas/K"},
          "offset": {"$ref": "#/components/schemas/Offset"},
          "min_score": {"type": "number", "minimum": -1, "maximum": 1, "nullable": true, "description": "Default: the model's text_min_score (xray-search-model.json), else 0.25; /api/health limits.text_min_score"},
          "raw_text": {"type": "boolean", "default": false, "description": "Embed the text as typed, not through the model's prompt templates (prompt_templates in xray-search-model.json; /api/health prompt_templates)"},
          "category": {"$ref": "#/components/schemas/Category"},
          "collapse_duplicates": {"$ref": "#/components/schemas/CollapseDuplicates"}
        }
      },
      "SimilarSearchRequest": {
        "type": "object", "required": ["id"], "additionalProperties": false,
        "properties": {
          "id": {"type": "integer", "format": "int64", "minimum": 0},
          "k": {"$ref": "#/components/schemas/K"},
          "offset": {"$ref": "#/components/schemas/Offset"},
          "min_score": {"type": "number", "minimum": -1, "maximum": 1, "nullable": true, "description": "Default: the model's image_min_score, else 0.95; /api/health limits.image_min_score"},
          "category": {"$ref": "#/components/schemas/Category"},
          "collapse_duplicates": {"$ref": "#/components/schemas/CollapseDuplicates"}
        }
      },
      "EmbeddingSearchRequest": {
        "type": "object", "required": ["embedding"], "additionalProperties": false,
        "properties": {
          "embedding": {"type": "array", "items": {"type": "number"}, "minItems": 1, "description": "Finite numbers, exactly the model's dimension (/api/health's dim); L2-normalised by the server"},
          "k": {"$ref": "#/components/schemas/K"},
          "offset": {"$ref": "#/components/schemas/Offset"},
          "min_score": {"type": "number", "minimum": -1, "maximum": 1, "nullable": true, "description": "Default: the image threshold (the model's image_min_score, else 0.95): an embedding has no kind"},
          "category": {"$ref": "#/components/schemas/Category"},
          "collapse_duplicates": {"$ref": "#/components/schemas/CollapseDuplicates"}
        }
      },
      "CombinedSearchRequest": {
        "type": "object", "required": ["terms"], "additionalProperties": false,
        "properties": {
          "terms": {"type": "array", "minItems": 1, "maxItems": 16, "items": {
            "type": "object", "additionalProperties": false, "description": "Exactly one of text, id, embedding, upload",
            "properties": {
              "text": {"type": "string", "minLength": 1},
              "id": {"type": "integer", "format": "int64", "minimum": 0, "description": "An indexed image; left out of the results"},
              "embedding": {"type": "array", "items": {"type": "number"}},
              "upload": {"type": "string", "description": "multipart/form-data requests only: the name of a file part holding an image (PNG, JPEG or DICOM), embedded as POST /api/search/image embeds its upload; an indexed image uploaded this way is left out of the results"},
              "weight": {"type": "number", "default": 1, "description": "Finite, not 0; negative subtracts"}}}},
          "k": {"$ref": "#/components/schemas/K"},
          "offset": {"$ref": "#/components/schemas/Offset"},
          "min_score": {"type": "number", "minimum": -1, "maximum": 1, "nullable": true, "description": "Default: the text threshold (the model's, else 0.25) when any term is text, else the image one (else 0.95); the response's min_score_rule says which"},
          "raw_text": {"type": "boolean", "default": false, "description": "Embed the text as typed, not through the model's prompt templates (prompt_templates in xray-search-model.json; /api/health prompt_templates)"},
          "category": {"$ref": "#/components/schemas/Category"},
          "collapse_duplicates": {"$ref": "#/components/schemas/CollapseDuplicates"}
        }
      },
      "CombinedSearchForm": {
        "type": "object", "required": ["query"],
        "description": "A combined query with uploaded images as terms: every part other than query is a file that an {\"upload\": \"<part name>\"} term names (each part must be used; the parts together count against the upload limit)",
        "properties": {
          "query": {"type": "string", "description": "The JSON document of a CombinedSearchRequest (k, min_score and the other options go here too)"}
        },
        "additionalProperties": {"type": "string", "format": "binary", "description": "An image file (PNG, JPEG or DICOM) named by an upload term"}
      },
      "ImageSearchForm": {
        "type": "object", "required": ["file"], "additionalProperties": false,
        "properties": {
          "file": {"type": "string", "format": "binary", "description": "PNG, JPEG or DICOM; the type is read from the content"},
          "k": {"type": "string", "pattern": "^[0-9]+$", "description": "1 to 20; empty means the default (5)"},
          "offset": {"type": "string", "pattern": "^[0-9]+$", "description": "0 to 10000; empty means 0"},
          "min_score": {"type": "string", "description": "A number from -1 to 1; empty means the image default (the model's image_min_score, else 0.95)"},
          "category": {"type": "string", "description": "Empty means all categories"},
          "collapse_duplicates": {"type": "string", "description": "Empty or false: no collapse; true: collapse at the model's duplicate_min_score (else 0.97); or a cosine similarity in (0, 1]"}
        }
      },
      "K": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5, "nullable": true},
      "Offset": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0, "nullable": true, "description": "Results to skip (paging: page n of size k is offset n*k); ranks stay those of the whole ranking"},
      "CollapseDuplicates": {"oneOf": [{"type": "boolean"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}], "nullable": true, "default": false, "description": "Collapse near-duplicates: true (at the model's duplicate_min_score, /api/health limits.duplicate_min_score, else 0.97) or a threshold in (0, 1]; a result that is a near-duplicate of one kept above it is hidden and counted in that one's duplicates_hidden; k, offset and rank then refer to the collapsed ranking (docs/DUPLICATES.md)"},
      "Category": {"type": "string", "minLength": 1, "nullable": true, "description": "One of /api/health's categories; null or absent for all"},
      "SearchHit": {
        "type": "object", "required": ["rank", "id", "image_name", "category", "score", "url", "preview_url", "path", "source_url"],
        "properties": {
          "rank": {"type": "integer", "minimum": 1},
          "id": {"type": "integer", "format": "int64"},
          "image_name": {"type": "string"},
          "category": {"type": "string"},
          "score": {"type": "number", "description": "Cosine similarity, -1 to 1"},
          "url": {"type": "string", "description": "/api/images/<id>"},
          "preview_url": {"type": "string", "description": "/api/images/<id>/preview"},
          "path": {"type": "string", "description": "Relative to the dataset folder"},
          "source_url": {"type": "string", "description": "Where the image was published (may be empty)"},
          "duplicates_hidden": {"type": "integer", "minimum": 0, "description": "Only when collapsing: the near-duplicates of this result hidden from the ranking"}
        }
      },
      "SearchResponse": {
        "type": "object", "required": ["results", "took_ms", "min_score", "query"],
        "properties": {
          "results": {"type": "array", "items": {"$ref": "#/components/schemas/SearchHit"}},
          "took_ms": {"type": "number"},
          "min_score": {"type": "number", "description": "The threshold that was applied"},
          "min_score_rule": {"type": "string", "description": "combined only: why that threshold (given, the text default as a term is text, or the image default)"},
          "prompt_templates": {"type": "integer", "description": "text and combined: the number of the model's prompt templates each text went through; absent when embedded as typed"},
          "query": {"type": "object", "required": ["type", "k", "offset", "category"], "properties": {
            "type": {"type": "string", "enum": ["text", "image", "similar", "embedding", "combined"]},
            "terms": {"type": "integer", "description": "combined only: how many terms"},
            "uploads": {"type": "array", "description": "combined with uploaded images only: the upload terms (their index in terms, the file part, the weight; never the bytes or file names)", "items": {"type": "object", "properties": {"term": {"type": "integer"}, "upload": {"type": "string"}, "weight": {"type": "number"}}}},
            "k": {"type": "integer"},
            "offset": {"type": "integer"},
            "category": {"type": "string", "nullable": true},
            "id": {"type": "integer", "format": "int64", "description": "similar only"},
            "collapse_duplicates": {"type": "number", "description": "Only when collapsing: the threshold applied"},
            "raw_text": {"type": "boolean", "description": "present (true) when the request set raw_text"}}}
        }
      }
    },
    "responses": {
      "SearchResults": {"description": "Ranked results at or above min_score (possibly none)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}},
      "BadRequest": {"description": "Malformed request, bad field, or an upload that is not a readable image", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "Missing or wrong API token (only when the server has one)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Forbidden": {"description": "The token is valid but lacks the route's scope (x-scopes)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooManyRequests": {"description": "Over the client's request rate or concurrent uploads; retry after Retry-After seconds", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "No such route or image", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "MethodNotAllowed": {"description": "Wrong method; the Allow header lists the right ones", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "PayloadTooLarge": {"description": "Body, upload or image dimensions over the limit", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "UnsupportedMediaType": {"description": "Wrong Content-Type, compressed body, or an image format that is not read (GIF, TIFF, ...)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "UnprocessableImage": {"description": "The uploaded image made the image decoder crash, time out or exceed its memory limit (the decoder runs in a separate process; the server goes on)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Internal": {"description": "A server-side failure", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unavailable": {"description": "The server cannot run this kind of query now (e.g. no tokenizer for text)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  }
})json";

}  // namespace

HttpResponse handle_openapi(const RouterOptions& options) {
  json doc = json::parse(kDocument);
  for (const Route& route : routes()) {
    json operation = json::parse(route.openapi);
    if (!route.access.needs_token) {
      operation["security"] = json::array();
    } else {
      // Bearer tokens carry no OpenAPI scopes; the scopes a token needs are listed here.
      json scopes = json::array();
      for (security::Scope s :
           {security::Scope::kSearch, security::Scope::kImages, security::Scope::kAdmin}) {
        if (security::has_scope(route.access.scopes, s)) {
          scopes.push_back(std::string(security::scope_name(s)));
        }
      }
      operation["x-scopes"] = scopes;
      operation["responses"]["403"] = {{"$ref", "#/components/responses/Forbidden"}};
    }
    if (route.path.starts_with("/api/")) {
      operation["responses"]["429"] = {{"$ref", "#/components/responses/TooManyRequests"}};
    }
    doc["paths"][std::string(route.path)][std::string(openapi_method(route.method))] =
        std::move(operation);
  }
  auto& schemas = doc["components"]["schemas"];
  schemas["TextSearchRequest"]["properties"]["query"]["maxLength"] = options.max_query_chars;
  schemas["ImageSearchForm"]["properties"]["file"]["description"] =
      "PNG, JPEG or DICOM, at most " + std::to_string(options.max_upload_bytes) +
      " bytes; the type is read from the content";
  auto& files = doc["paths"]["/{file}"]["get"]["parameters"][0]["schema"]["enum"];
  for (const WebAsset& asset : web_assets()) files.push_back(std::string(asset.path.substr(1)));
  // Without tokens, nothing needs one; with them, everything but the UI and /api/health.
  doc["security"] = !auth_enabled(options) ? json::array({json::object()})
                                           : json::array({{{"bearerAuth", json::array()}}});
  return json_response(doc);
}

}  // namespace xrs::api
