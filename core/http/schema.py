"""The OpenAPI schema, told truthfully: what every answer carries, not only what DRF infers.

Clients are generated from ``/api/schema/`` (openapi-python-client, ...), so whatever the schema
leaves out or gets wrong becomes a client that cannot reach a page, reads ``Unset`` for a field
that is always there, or never sees a header the contract promises. ``ApiAutoSchema``
(REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) is the one place that adds, from each view's own
attributes (its throttle, its HTTP cache policy, its idempotent methods):

- the error responses with the API.md error body (the ``Error`` component);
- the response headers: ``RateLimit``/``RateLimit-Policy`` on throttled views, ``Retry-After``
  on ``429`` and ``503``, ``ETag`` (and ``304``) on publicly cached GETs,
  ``Idempotent-Replayed`` on idempotent operations, whose ``Idempotency-Key`` request header
  is declared required;
- response components whose properties are all required: DRF serializes every field of an
  output serializer, so a model field with a default (``status``) is still always sent. A
  field that really may be absent is declared on its serializer with ``required=False``;
- no security requirement on operations anonymous callers may use;
- descriptions from a class's or method's own docstring only: a base class's docstring is
  written for this codebase's developers (``StrictInputSerializer``), not for API users.
"""

import inspect
from typing import Any

from drf_spectacular.drainage import get_override
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance

from core.http import idempotency

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
ERROR_REFERENCE = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}

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
    "502": "The payment provider could not be reached.",
}
IDEMPOTENCY_ERRORS = {"422": "Idempotency-Key reused with a different body."}

RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
# Sent on every answer of a throttled view while throttling is on (THROTTLE_ENABLED), except
# those refused before the view runs (load shedding): hence not required.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": 'The tightest applicable limit, e.g. `"anon_60";q=100;w=60` '
        "(IETF httpapi-ratelimit-headers).",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of that limit, e.g. `"anon_60";r=42;t=17`.',
        "schema": {"type": "string"},
    },
}
ETAG = {
    "description": "A weak validator of the body: send it back as If-None-Match to get a 304.",
    "required": True,
    "schema": {"type": "string"},
}
IDEMPOTENT_REPLAYED = {
    "description": "`true` when this answer replays the first one sent with the same "
    "Idempotency-Key (absent on the first answer).",
    "schema": {"type": "string", "enum": ["true"]},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag of an earlier answer: 304 while the body is unchanged.",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": True,
    "description": "A unique key per attempt (1 to 255 printable characters). A retry with "
    "the same key and body replays the first answer; with another body it is a 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
}


def own_doc(obj: object) -> str:
    """``obj``'s own docstring, cleaned; never one inherited from a base class."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else ""


class ApiAutoSchema(AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        """The handler method's own docstring, else the view class's own."""
        handler = getattr(type(self.view), self.method.lower(), None)
        return own_doc(handler) or own_doc(type(self.view))

    def get_auth(self) -> list[dict[str, list[str]]]:
        """No security requirement where anonymous callers are let in: OpenAPI's optional
        ``{}`` alternative makes generators (openapi-python-client) demand a token anyway."""
        auth = super().get_auth()
        return [] if {} in auth else auth

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        # drf-spectacular's private mapper is unannotated.
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        serializer = force_instance(serializer)
        description = get_override(serializer, "description", own_doc(type(serializer)))
        schema.pop("description", None)
        if description:
            schema["description"] = description
        if direction == "response":
            declared = getattr(serializer, "_declared_fields", {})
            may_be_absent = {
                name for name, field in declared.items() if field._kwargs.get("required") is False
            }
            properties = schema.get("properties", {})
            required = [
                name
                for name, prop in properties.items()
                if name not in may_be_absent and not prop.get("writeOnly")
            ]
            if required:
                schema["required"] = required
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        method = self.method
        responses: dict[str, Any] = operation["responses"]
        idempotent = method in getattr(self.view, "idempotent_methods", ())
        publicly_cached = method == "GET" and hasattr(self.view, "http_cache")
        throttled = bool(self.view.get_throttles())

        errors = dict(COMMON_ERRORS)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(BODY_ERRORS)
        if idempotent:
            errors.update(IDEMPOTENCY_ERRORS)
        for status, description in errors.items():
            responses.setdefault(
                status,
                {
                    "description": description,
                    "content": {"application/json": {"schema": ERROR_REFERENCE}},
                },
            )

        parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
        if idempotent:
            parameters.append(IDEMPOTENCY_KEY)
        if publicly_cached:
            parameters.append(IF_NONE_MATCH)
            responses.setdefault("304", {"description": "Not modified since the If-None-Match."})
        if not parameters:
            del operation["parameters"]

        for status, response in responses.items():
            headers: dict[str, Any] = response.setdefault("headers", {})
            if throttled:
                headers.update(RATE_LIMIT_HEADERS)
            if status in ("429", "503"):
                headers["Retry-After"] = RETRY_AFTER
            if publicly_cached and status in ("200", "304"):
                headers["ETag"] = ETAG
            if idempotent and status.startswith("2"):
                headers["Idempotent-Replayed"] = IDEMPOTENT_REPLAYED
            if not headers:
                del response["headers"]
        return operation


def add_error_component(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the
    ``Error`` component ``ApiAutoSchema``'s error responses refer to."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    return result
