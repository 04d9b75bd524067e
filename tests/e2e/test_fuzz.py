"""Fuzzing every operation of the OpenAPI schema, anonymous and authenticated: no 5xx, and
every response (errors included) matches the schema.

Bounded: FUZZ_EXAMPLES examples per operation and identity (``make test`` keeps it small;
raise it for a longer hunt). The ``positive_data_acceptance`` check is left out: schema-valid
data may still break a business rule (an unknown package id, a full slot) and rightly get 4xx.
"""

import datetime
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bookings import services
from bookings.demo_data import seed_catalogue
from bookings.models import Package
from tests.bookings.conftest import days_ahead
from tests.conftest import client_for, make_customer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
fuzz_settings = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Django closes database connections when a request finishes; the test client turns
    that off for the test's transaction, and the fuzzer's WSGI client must too."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db) -> str:
    """A customer with a booking, so object endpoints have something of theirs to find."""
    seed_catalogue()
    customer = make_customer("fuzz@example.com")
    services.booking_create(
        customer=customer,
        package_id=Package.objects.first().pk,
        event_date=days_ahead(30),
        start_time=datetime.time(16, 0),
        adults=10,
        children=0,
        postcode="90012",
        address="1 Fuzz St",
    )
    return client_for(customer)._credentials["HTTP_AUTHORIZATION"]


@pytest.mark.django_db
@schema.parametrize()
@fuzz_settings
def test_anonymous(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


@pytest.mark.django_db
@schema.parametrize()
@fuzz_settings
def test_authenticated(case, token):
    case.call_and_validate(
        headers={"Authorization": token}, excluded_checks=[positive_data_acceptance]
    )
