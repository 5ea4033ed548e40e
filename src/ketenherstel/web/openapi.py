"""Shape FastAPI's OpenAPI document to the government's API Design Rules (ADR).

Errors are `application/problem+json`, every response names the `API-Version` header, every
write declares its 400, and FastAPI's 422 validation answer becomes our 400.
"""

from __future__ import annotations

import copy
from typing import Any

PROBLEM_JSON = "application/problem+json"

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details, with every problem found listed",
    "required": ["status", "title", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference", "default": "about:blank"},
        "status": {"type": "integer"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": ["integer", "null"]},
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                },
                "required": ["index", "field", "reason"],
            },
        },
    },
}

_API_VERSION = {
    "description": "The full semantic version of the API",
    "schema": {"type": "string", "example": "0.1.0"},
}

_DEFAULT_ERRORS = {
    "400": "Invalid input: every problem is listed",
    "401": "Not authenticated",
}


def _problem_ref() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def adjust(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = _PROBLEM_SCHEMA
    components.setdefault("headers", {})["API-Version"] = _API_VERSION
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `ketenherstel token create`",
        },
        "clientCertificate": {
            "type": "mutualTLS",
            "description": "A client certificate whose subject serialNumber is the OIN",
        },
    }
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if not op.get("description"):
                op["description"] = op.get("summary", "")
            responses: dict[str, Any] = op.setdefault("responses", {})
            responses.pop("422", None)
            public = path == "/v1/health"
            if not public:
                op["security"] = [{"bearer": []}, {"clientCertificate": []}]
            wanted = {} if public else dict(_DEFAULT_ERRORS)
            if method == "get" and not op.get("parameters"):
                wanted.pop("400", None)
            for code, text in wanted.items():
                responses.setdefault(code, {"description": text})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = _problem_ref()
                response.setdefault("headers", {})["API-Version"] = {
                    "$ref": "#/components/headers/API-Version"
                }
    return doc
