"""The OpenAPI schema tells the truth: what each operation declares is what it answers.

Clients generated from the schema are real users (tests/e2e/test_generated_client.py): a field
always sent but declared optional becomes ``X | Unset``, an undeclared query parameter is a
page the client cannot reach, an undeclared header one it cannot read.
"""

import datetime
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.test import APIClient
from rest_framework.views import APIView

import core.cache.http
import core.http.serializers
from accounts.models import User
from blog import services as blog_services
from bookings import services as booking_services
from bookings.models import Booking
from payments.models import Payment
from reviews.models import Review
from tests.bookings.conftest import Catalogue, catalogue, days_ahead  # noqa: F401 (fixture)
from tests.conftest import PASSWORD, client_for, make_customer
from tests.payments.conftest import intent_event, signed
from tests.reviews.factories import make_booking as make_past_booking
from tests.reviews.factories import make_review

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/?format=json"


@pytest.fixture
def schema(api_client) -> dict[str, Any]:
    response = api_client.get(SCHEMA_URL)
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, operation)."""
    found = {}
    for url, item in schema["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method, url, operation)
    return found


# ------------------------------------------------------------------------------ shape checking


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with ``$ref`` and one-element ``allOf`` followed (drf-spectacular's forms)."""
    while True:
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/components/schemas/")
            node = {**schema["components"]["schemas"][name], "_name": name}
        elif len(node.get("allOf", [])) == 1:
            extra = {k: v for k, v in node.items() if k != "allOf"}
            node = {**resolve(schema, node["allOf"][0]), **extra}
        else:
            return node


def mismatches(schema: dict[str, Any], node: dict[str, Any], value: Any, where: str) -> list[str]:
    """Every way ``value`` (an answer's JSON) differs from the declared ``node``: keys present
    must be exactly the required properties, nulls only where nullable, recursively."""
    node = resolve(schema, node)
    if value is None:
        return [] if node.get("nullable") else [f"{where}: null but not nullable"]
    if "oneOf" in node:  # a nullable enum: the value must match one of them
        return []
    problems: list[str] = []
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, declared object"]
        name = node.get("_name", where)
        declared, required = set(node["properties"]), set(node.get("required", []))
        keys = set(value)
        problems += [f"{name}.{k}: required, never sent" for k in sorted(required - keys)]
        problems += [f"{name}.{k}: sent, not declared" for k in sorted(keys - declared)]
        problems += [
            f"{name}.{k}: always sent, optional" for k in sorted((keys & declared) - required)
        ]
        for key in sorted(keys & declared):
            problems += mismatches(schema, node["properties"][key], value[key], f"{name}.{key}")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, declared array"]
        for index, item in enumerate(value[:3]):
            problems += mismatches(schema, node["items"], item, f"{where}[{index}]")
    else:
        python = {"integer": int, "number": (int, float), "string": str, "boolean": bool}
        if kind in python and (
            not isinstance(value, python[kind]) or (kind == "integer" and isinstance(value, bool))
        ):
            problems.append(f"{where}: {value!r} is not {kind}")
        if "enum" in node and value not in node["enum"]:
            problems.append(f"{where}: {value!r} not in {node['enum']}")
    return problems


def test_the_shape_checker_catches_an_optional_field_that_is_always_sent():
    # given a component whose "status" is declared optional
    schema = {
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "status": {"type": "string"}},
                    "required": ["id"],
                }
            }
        }
    }
    node = {"$ref": "#/components/schemas/Thing"}
    # when an answer sends it, and another misses a required one
    assert mismatches(schema, node, {"id": 1, "status": "ok"}, "x") == [
        "Thing.status: always sent, optional"
    ]
    assert mismatches(schema, node, {"status": "ok", "extra": 1}, "x") == [
        "Thing.id: required, never sent",
        "Thing.extra: sent, not declared",
        "Thing.status: always sent, optional",
    ]


# ------------------------------------------------------------------------------ every operation


@dataclass
class World:
    """Something of everything, so that every operation has a real, non-empty answer."""

    anonymous: APIClient
    customer: User
    client: APIClient
    booking: Booking
    cancellable: Booking
    completed: Booking
    payment: Payment
    post_slug: str


@pytest.fixture
def world(catalogue: Catalogue) -> World:  # noqa: F811
    customer = make_customer()
    client = client_for(customer)
    bookings = [
        booking_services.booking_create(
            customer=customer,
            package_id=catalogue.package.pk,
            event_date=days_ahead(10 + n),
            start_time=datetime.time(18, 0),
            adults=10,
            children=2,
            postcode="90012",
            address="1 Grand Ave",
        )
        for n in range(3)
    ]
    body = {"booking": bookings[0].pk, "kind": "deposit", "amount": bookings[0].deposit_due}
    paid = client.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="first")
    assert paid.status_code == 201, paid.content
    client.post(
        "/api/v1/payments/",
        {"booking": bookings[1].pk, "kind": "deposit", "amount": bookings[1].deposit_due},
        format="json",
        HTTP_IDEMPOTENCY_KEY="second",
    )
    completed = make_past_booking(customer=customer, package=catalogue.package)
    reviewed = make_past_booking(customer=customer, package=catalogue.package)
    for _ in range(2):
        make_review(
            customer=customer,
            booking=make_past_booking(customer=customer, package=catalogue.package),
            status=Review.Status.APPROVED,
        )
    make_review(customer=customer, booking=reviewed, status=Review.Status.APPROVED, rating=4)
    author = make_customer("kenji@example.com", name="Kenji")
    slugs = []
    for number in range(3):
        post = blog_services.post_create(
            author=author,
            title=f"Hibachi night {number}",
            slug=f"hibachi-night-{number}",
            body="We bring the grill and the show.",
            excerpt="",
            tags=["parties"],
            featured=True,
        )
        blog_services.post_publish(
            post=post, published_at=timezone.now() - datetime.timedelta(hours=number + 1)
        )
        slugs.append(post.slug)
    return World(
        anonymous=APIClient(),
        customer=customer,
        client=client,
        booking=bookings[0],
        cancellable=bookings[2],
        completed=completed,
        payment=Payment.objects.get(pk=paid.json()["id"]),
        post_slug=slugs[0],
    )


def _webhook(w: World) -> Any:
    payload, signature = signed(intent_event("evt_schema", "payment_intent.succeeded", "pi_1"))
    return w.anonymous.post(
        "/api/v1/payments/webhooks/stripe/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def _revoke(w: World) -> Any:
    return client_for(make_customer("leaving@example.com")).delete("/api/v1/auth/token/")


def _quote(w: World) -> dict[str, Any]:
    return {k: v for k, v in order_for(w).items() if k not in ("address", "notes")}


def order_for(w: World) -> dict[str, Any]:
    return {
        "package": w.booking.package_id,
        "event_date": days_ahead(40).isoformat(),
        "start_time": "18:00",
        "adults": 10,
        "children": 2,
        "postcode": "90012",
        "address": "1 Grand Ave, Los Angeles",
        "notes": "Nut allergy at table two.",
    }


# operationId -> one successful request. Pages ask for one item, so ``next`` is a link.
CASES: dict[str, Callable[[World], Any]] = {
    "v1_auth_me_retrieve": lambda w: w.client.get("/api/v1/auth/me/"),
    "v1_auth_register_create": lambda w: w.anonymous.post(
        "/api/v1/auth/register/",
        {"email": "new@example.com", "password": PASSWORD, "name": "Newt"},
        format="json",
    ),
    "v1_auth_token_create": lambda w: w.anonymous.post(
        "/api/v1/auth/token/", {"email": w.customer.email, "password": PASSWORD}, format="json"
    ),
    "v1_auth_token_destroy": _revoke,
    "v1_blog_posts_list": lambda w: w.anonymous.get("/api/v1/blog/posts/?page_size=1"),
    "v1_blog_posts_featured_list": lambda w: w.anonymous.get("/api/v1/blog/posts/featured/"),
    "v1_blog_posts_retrieve": lambda w: w.anonymous.get(f"/api/v1/blog/posts/{w.post_slug}/"),
    "v1_packages_list": lambda w: w.anonymous.get("/api/v1/packages/"),
    "v1_bookings_service_area_retrieve": lambda w: w.anonymous.get(
        "/api/v1/bookings/service-area/"
    ),
    "v1_bookings_availability_list": lambda w: w.anonymous.get(
        f"/api/v1/bookings/availability/?start={days_ahead(10)}&end={days_ahead(12)}"
    ),
    "v1_bookings_quote_create": lambda w: w.anonymous.post(
        "/api/v1/bookings/quote/", _quote(w), format="json"
    ),
    "v1_bookings_list": lambda w: w.client.get("/api/v1/bookings/?page_size=1"),
    "v1_bookings_create": lambda w: w.client.post("/api/v1/bookings/", order_for(w), format="json"),
    "v1_bookings_retrieve": lambda w: w.client.get(f"/api/v1/bookings/{w.booking.pk}/"),
    "v1_bookings_cancel_create": lambda w: w.client.post(
        f"/api/v1/bookings/{w.cancellable.pk}/cancel/"
    ),
    "v1_payments_list": lambda w: w.client.get("/api/v1/payments/?page_size=1"),
    "v1_payments_create": lambda w: w.client.post(
        "/api/v1/payments/",
        {"booking": w.booking.pk, "kind": "balance", "amount": 100},
        format="json",
        HTTP_IDEMPOTENCY_KEY="balance-1",
    ),
    "v1_payments_retrieve": lambda w: w.client.get(f"/api/v1/payments/{w.payment.pk}/"),
    "v1_payments_webhooks_stripe_create": _webhook,
    "v1_reviews_list": lambda w: w.anonymous.get("/api/v1/reviews/?page_size=1"),
    "v1_reviews_create": lambda w: w.client.post(
        "/api/v1/reviews/",
        {"booking": w.completed.pk, "rating": 5, "title": "Great", "body": "Loved it."},
        format="json",
    ),
    "v1_reviews_stats_retrieve": lambda w: w.anonymous.get("/api/v1/reviews/stats/"),
}


def test_every_operation_has_a_case(schema):
    assert set(operations(schema)) == set(CASES)


@pytest.mark.parametrize("operation_id", sorted(CASES))
def test_each_answer_is_exactly_what_the_operation_declares(schema, world, operation_id):
    # given the operation's declaration
    method, url, operation = operations(schema)[operation_id]
    # when it is called the way a client would
    response = CASES[operation_id](world)
    # then its status, required headers and every key of its body are declared, and every
    # property it declares required is sent
    status = str(response.status_code)
    assert status.startswith("2"), (status, response.content[:300])
    declared = operation["responses"].get(status)
    assert declared is not None, f"{method} {url} answered an undeclared {status}"
    for name, header in declared.get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers, f"{name} declared required, not sent"
    content = declared.get("content", {}).get("application/json")
    if content is None:
        assert response.content == b""
        return
    body = response.json()
    assert mismatches(schema, content["schema"], body, operation_id) == []
    if resolve(schema, content["schema"]).get("_name", "").startswith("Paginated"):
        assert body["results"] and body["next"], "a page to compare: one item, then more"


# ------------------------------------------------------------------------------ declarations


def test_every_paginated_list_declares_its_cursor_and_page_size(schema):
    paginated = {
        operation_id: operation
        for operation_id, (method, _path, operation) in operations(schema).items()
        if method == "get" and "Paginated" in str(operation["responses"]["200"])
    }
    assert set(paginated) == {
        "v1_blog_posts_list",
        "v1_bookings_list",
        "v1_payments_list",
        "v1_reviews_list",
    }
    for operation_id, operation in paginated.items():
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert {"cursor", "page_size"} <= query, operation_id
        page = resolve(
            schema, operation["responses"]["200"]["content"]["application/json"]["schema"]
        )
        assert set(page["required"]) == {"next", "previous", "results"}, operation_id


def test_list_operations_are_named_list(schema):
    for operation_id, (method, _path, operation) in operations(schema).items():
        if method != "get":
            continue
        answer = resolve(
            schema, operation["responses"]["200"]["content"]["application/json"]["schema"]
        )
        is_list = answer.get("type") == "array" or answer.get("_name", "").startswith("Paginated")
        assert operation_id.endswith("_list") == is_list, operation_id


def test_headers_are_declared(schema):
    ops = operations(schema)
    # Idempotency: a required request header, and the replay marker on the answer
    _, _, pay = ops["v1_payments_create"]
    key = [p for p in pay["parameters"] if p["name"] == "Idempotency-Key"]
    assert key and key[0]["in"] == "header" and key[0]["required"] is True
    assert "Idempotent-Replayed" in pay["responses"]["201"]["headers"]
    assert "422" in pay["responses"]
    for operation_id, (_method, _path, operation) in ops.items():
        responses = operation["responses"]
        # Retry-After on every 429 and 503
        for status in ("429", "503"):
            assert responses[status]["headers"]["Retry-After"]["required"] is True, operation_id
            error = responses[status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}
        throttled = operation_id != "v1_payments_webhooks_stripe_create"
        for status, response in responses.items():
            headers = response.get("headers", {})
            # RateLimit headers on every answer of a throttled operation, errors included
            assert ({"RateLimit", "RateLimit-Policy"} <= set(headers)) == throttled, (
                operation_id,
                status,
            )
    # ETag (and 304) on the publicly cached GETs
    for operation_id in ("v1_packages_list", "v1_reviews_list", "v1_blog_posts_retrieve"):
        responses = ops[operation_id][2]["responses"]
        assert responses["200"]["headers"]["ETag"]["required"] is True
        assert "304" in responses
    assert "ETag" not in ops["v1_bookings_list"][2]["responses"]["200"].get("headers", {})


def test_error_component_is_the_api_md_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "errors"}
    assert error["required"] == ["code", "message"]


def _internal_docstrings() -> set[str]:
    """Docstrings written for this codebase's developers: base classes and mixins."""
    found = set()
    for module in (core.http.serializers, core.cache.http):
        for _, member in inspect.getmembers(module, inspect.isclass):
            if member.__module__ == module.__name__ and member.__doc__:
                found.add(inspect.cleandoc(member.__doc__))
    return found


def _descriptions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["description"]] if isinstance(node.get("description"), str) else []
        return found + [d for value in node.values() for d in _descriptions(value)]
    if isinstance(node, list):
        return [d for value in node for d in _descriptions(value)]
    return []


def test_no_description_is_an_internal_docstring(schema):
    internal = _internal_docstrings()
    assert internal  # the check checks something
    leaked = [d for d in _descriptions(schema) if d in internal]
    assert leaked == []
    assert "description" not in schema["components"]["schemas"]["Review"]


def test_always_sent_fields_are_required(schema):
    components = schema["components"]["schemas"]
    expected = {
        "Booking": {"status", "children", "notes"},
        "Payment": {"status", "currency"},
        "PaymentCreated": {"status", "currency", "client_secret"},
        "Review": {"status", "created_at"},
        "Package": {"description", "min_guests", "max_guests", "currency"},
    }
    for name, fields in expected.items():
        assert fields <= set(components[name]["required"]), name


def test_operations_anonymous_callers_may_use_require_no_security(schema):
    # OpenAPI's optional-auth form ([..., {}]) makes generated clients demand a token.
    ops = operations(schema)
    for operation_id in ("v1_auth_register_create", "v1_packages_list", "v1_reviews_list"):
        assert "security" not in ops[operation_id][2], operation_id
    for operation_id in ("v1_bookings_list", "v1_payments_create", "v1_reviews_create"):
        assert {} not in ops[operation_id][2]["security"], operation_id


def test_a_response_field_declared_not_required_stays_optional():
    # given an output serializer with a model-default field and a field declared optional
    class ThingSerializer(serializers.Serializer):
        """What a thing looks like."""

        name = serializers.CharField()
        colour = serializers.CharField(default="red")
        nickname = serializers.CharField(required=False)

    class ThingView(APIView):
        @extend_schema(responses={200: ThingSerializer})
        def get(self, request):
            raise NotImplementedError

    generator = SchemaGenerator(patterns=[path("thing/", ThingView.as_view())])
    # when the schema is generated
    component = generator.get_schema(request=None, public=True)["components"]["schemas"]["Thing"]
    # then a default does not make a field optional in the answer; required=False does
    assert component["required"] == ["name", "colour"]
    assert component["description"] == "What a thing looks like."
