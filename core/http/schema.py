"""OpenAPI schema additions: the API.md error body on every operation.

drf-spectacular documents the success responses it can infer; every operation can also fail
with the error body of API.md, and clients (and the fuzzer) rely on those being documented.
"""

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx/5xx answer (API.md, Errors).",
    "properties": {
        "code": {"type": "string", "description": "A stable machine-readable code."},
        "message": {"type": "string", "description": "A human sentence."},
        "errors": {
            "type": "object",
            "description": "For validation errors: field -> messages.",
            "additionalProperties": True,
        },
    },
    "required": ["code", "message"],
}

# Failures any operation may answer, and those only requests with a body can.
COMMON_ERRORS = {
    "400": "Invalid input or query parameters.",
    "401": "Authentication required or invalid.",
    "403": "Not allowed.",
    "404": "Not found (also another customer's object).",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "429": "Rate limited: see Retry-After and RateLimit headers.",
    "503": "Temporarily unavailable (load shedding or a dependency down): see Retry-After.",
}
BODY_ERRORS = {
    "409": "Conflicts with the current state (e.g. slot_full, too_late_to_cancel).",
    "413": "The body is too large.",
    "415": "Unsupported media type.",
    "422": "Idempotency-Key reused with a different body.",
    "502": "The payment provider could not be reached.",
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(COMMON_ERRORS)
            if method in ("post", "put", "patch", "delete"):
                errors.update(BODY_ERRORS)
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
