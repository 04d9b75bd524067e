"""``CompiledTokenAuthentication``: DRF's token lookup through a compiled query, with the same
answers (the user and the token as the ORM loads them, 401 for an unknown key or an inactive
user) and one query."""

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from core.http.authentication import CompiledTokenAuthentication
from tests.conftest import assert_error, client_for, make_customer

pytestmark = pytest.mark.django_db


def test_a_token_gives_the_user_and_the_token_drf_would(customer):
    key = Token.objects.create(user=customer).key
    with CaptureQueriesContext(connection) as queries:
        user, token = CompiledTokenAuthentication().authenticate_credentials(key)
    assert len(queries) == 1
    drf_user, drf_token = TokenAuthentication().authenticate_credentials(key)
    assert model_to_dict(user) == model_to_dict(drf_user)
    assert (user.pk, user.password, user.last_login) == (
        drf_user.pk,
        drf_user.password,
        drf_user.last_login,
    )
    assert (token.key, token.user_id, token.created) == (key, customer.pk, drf_token.created)
    assert token.user is user
    # loaded, not new: saving it updates the row
    assert user._state.adding is False and user._state.db == drf_user._state.db
    assert token._state.adding is False


def test_an_unknown_key_and_an_inactive_user_are_refused(customer):
    with pytest.raises(exceptions.AuthenticationFailed, match="Invalid token"):
        CompiledTokenAuthentication().authenticate_credentials("0" * 40)
    key = Token.objects.create(user=customer).key
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    with pytest.raises(exceptions.AuthenticationFailed, match="inactive"):
        CompiledTokenAuthentication().authenticate_credentials(key)


def test_the_api_answers_401_for_a_bad_token_and_knows_a_good_one(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    assert_error(api_client.get("/api/v1/bookings/"), 401, "authentication_failed")
    customer = make_customer("known@example.com")
    assert client_for(customer).get("/api/v1/bookings/").status_code == 200
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    assert_error(client_for(customer).get("/api/v1/bookings/"), 401, "authentication_failed")


@pytest.mark.parametrize("key", ["\x00" + "a" * 39, "a" * 41, "a" * 5000])
def test_a_key_no_token_can_have_is_refused_without_a_query(api_client, key, pg_cluster):
    # on PostgreSQL a NUL byte in the compared text is a DataError: it was a 500
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(exceptions.AuthenticationFailed, match="Invalid token"),
    ):
        CompiledTokenAuthentication().authenticate_credentials(key)
    assert len(queries) == 0
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert_error(api_client.get("/api/v1/auth/me/"), 401, "authentication_failed")
