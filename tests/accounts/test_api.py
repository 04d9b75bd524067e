import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.conftest import PASSWORD, assert_error, client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/auth/me/"


class TestRegister:
    def test_creates_a_customer(self, api_client):
        body = {"email": "New@Example.com", "password": PASSWORD, "name": "Nia New"}
        response = api_client.post(REGISTER, body, format="json")
        assert response.status_code == 201
        created = response.json()
        assert created == {"id": created["id"], "email": "new@example.com", "name": "Nia New"}
        user = User.objects.get(pk=created["id"])
        assert user.check_password(PASSWORD)
        assert not user.is_staff

    @pytest.mark.parametrize("password", ["password", "12345678", "short", "nia@example.com"])
    def test_weak_passwords_are_400(self, api_client, password):
        body = {"email": "nia@example.com", "password": password, "name": "Nia New"}
        response = api_client.post(REGISTER, body, format="json")
        assert "password" in assert_error(response, 400, "validation_error")["errors"]
        assert not User.objects.exists()

    def test_taken_email_is_400_whatever_its_case(self, api_client, customer):
        body = {"email": customer.email.upper(), "password": PASSWORD, "name": "Copy"}
        response = api_client.post(REGISTER, body, format="json")
        assert "email" in assert_error(response, 400, "validation_error")["errors"]

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "not-an-email", "password": PASSWORD, "name": "X"},
            {"email": "a@example.com", "password": PASSWORD},
            {"email": "a@example.com", "password": PASSWORD, "name": "X", "is_staff": True},
            {"email": "a@example.com", "password": PASSWORD, "name": "x" * 500},
            {"email": ["a@example.com"], "password": PASSWORD, "name": "X"},
        ],
    )
    def test_bad_bodies_are_400(self, api_client, body):
        assert_error(api_client.post(REGISTER, body, format="json"), 400, "validation_error")
        assert not User.objects.filter(is_staff=True).exists()


class TestToken:
    def test_login_returns_a_token_that_authenticates(self, api_client, customer):
        response = api_client.post(
            TOKEN, {"email": customer.email, "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200
        token = response.json()["token"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api_client.get(ME).json() == {
            "id": customer.pk,
            "email": customer.email,
            "name": customer.name,
        }

    def test_wrong_password_is_400(self, api_client, customer):
        response = api_client.post(
            TOKEN, {"email": customer.email, "password": "wrong-password"}, format="json"
        )
        assert_error(response, 400, "invalid_credentials")

    def test_unknown_email_is_the_same_400(self, api_client):
        response = api_client.post(
            TOKEN, {"email": "nobody@example.com", "password": PASSWORD}, format="json"
        )
        assert_error(response, 400, "invalid_credentials")

    def test_inactive_user_cannot_log_in(self, api_client, customer):
        customer.is_active = False
        customer.save()
        response = api_client.post(
            TOKEN, {"email": customer.email, "password": PASSWORD}, format="json"
        )
        assert_error(response, 400, "invalid_credentials")

    def test_login_ignores_a_stale_token_header(self, api_client, customer):
        api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        response = api_client.post(
            TOKEN, {"email": customer.email, "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200

    def test_delete_revokes_the_token(self, customer):
        client = client_for(customer)
        assert client.delete(TOKEN).status_code == 204
        assert not Token.objects.filter(user=customer).exists()
        assert_error(client.get(ME), 401, "authentication_failed")

    def test_delete_without_token_is_401(self, api_client):
        assert_error(api_client.delete(TOKEN), 401, "not_authenticated")


def test_me_requires_authentication(api_client):
    response = api_client.get(ME)
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Token"
