"""Under saturation, critical requests keep succeeding while non-critical ones are shed."""

import time

import pytest

from core.throttling.shedding import LoadSheddingMiddleware, queue_seconds
from tests.bookings.conftest import catalogue, order  # noqa: F401 (fixture)
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db


def queued_for(seconds: float) -> dict[str, str]:
    """The header nginx would have set ``seconds`` ago (deploy/nginx sets t=${msec})."""
    return {"HTTP_X_REQUEST_START": f"t={time.time() - seconds:.3f}"}


@pytest.fixture(autouse=True)
def limits(settings):
    settings.SHED_MAX_QUEUE_SECONDS = 1.0
    settings.SHED_MAX_IN_FLIGHT = 32


def test_low_priority_is_shed_first(api_client, customer_client, catalogue):  # noqa: F811
    # given requests that waited 1.5 s in nginx's queue: past the limit, within twice it
    headers = queued_for(1.5)
    # then blog reads (low) are shed with 503 + Retry-After
    shed = api_client.get("/api/v1/blog/posts/", **headers)
    assert_error(shed, 503, "overloaded")
    assert shed.headers["Retry-After"] == "2"
    assert_error(api_client.get("/api/v1/reviews/stats/", **headers), 503, "overloaded")
    # normal traffic still passes, and so does a booking (critical)
    assert api_client.get("/api/v1/packages/", **headers).status_code == 200
    assert (
        customer_client.post(
            "/api/v1/bookings/", order(catalogue), format="json", **headers
        ).status_code
        == 201
    )


def test_past_twice_the_limit_only_critical_passes(api_client, customer_client, catalogue):  # noqa: F811
    headers = queued_for(5)
    assert_error(api_client.get("/api/v1/packages/", **headers), 503, "overloaded")
    booking = customer_client.post("/api/v1/bookings/", order(catalogue), format="json", **headers)
    assert booking.status_code == 201
    payment = customer_client.post(
        "/api/v1/payments/",
        {
            "booking": booking.json()["id"],
            "kind": "deposit",
            "amount": booking.json()["quote"]["deposit_due"],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="shed-1",
        **headers,
    )
    assert payment.status_code == 201


def test_in_flight_requests_count_as_pressure(rf):
    # given a worker already serving more than the limit
    middleware = LoadSheddingMiddleware(lambda request: None)
    middleware.in_flight = 33

    class LowView:
        traffic_priority = {"GET": "low"}

    def view(request):
        return None

    view.cls = LowView
    # when / then: a low-priority request is shed, a critical one is not
    assert middleware.process_view(rf.get("/"), view, (), {}).status_code == 503
    LowView.traffic_priority = {"GET": "critical"}
    assert middleware.process_view(rf.get("/"), view, (), {}) is None


def test_no_pressure_sheds_nothing(api_client):
    assert api_client.get("/api/v1/blog/posts/").status_code == 200
    assert api_client.get("/api/v1/blog/posts/", **queued_for(0.2)).status_code == 200


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("t=1799999999.5", 0.5),  # nginx's ${msec}: seconds with milliseconds
        ("1799999999500", 0.5),  # milliseconds
        ("1799999999500000", 0.5),  # microseconds
        ("t=1800000001.0", 0.0),  # clock skew: never negative
        ("", 0.0),
        ("garbage", 0.0),
    ],
)
def test_queue_time_reads_every_unit(header, seconds):
    assert queue_seconds(header, now=NOW) == pytest.approx(seconds)
