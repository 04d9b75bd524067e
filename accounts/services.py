"""Writes for accounts: registration and API tokens."""

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.errors import InvalidCredentials
from accounts.models import User
from core.http.errors import InvalidInput


def user_register(*, email: str, password: str, name: str) -> User:
    """Create a customer account. Raises ``InvalidInput`` for a taken email or weak password."""
    email = User.objects.normalize_email(email).lower()
    candidate = User(email=email, name=name)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput("password", *exc.messages) from None
    if User.objects.filter(email=email).exists():
        raise InvalidInput("email", "An account with this email already exists.")
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name)
    except IntegrityError:
        # Two registrations raced past the check above; the unique index decided.
        raise InvalidInput("email", "An account with this email already exists.") from None


def token_obtain(*, email: str, password: str) -> Token:
    """Return the user's API token, creating it on first login."""
    user = authenticate(username=email.lower(), password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_revoke(*, user: User) -> None:
    """Delete the user's API token; every client using it is logged out."""
    Token.objects.filter(user=user).delete()
