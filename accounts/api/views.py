from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import login_policy, services
from accounts.api.serializers import (
    RegisterInputSerializer,
    TokenInputSerializer,
    TokenSerializer,
    UserSerializer,
)
from accounts.errors import InvalidCredentials


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_scopes = {"POST": ["login_ip"]}

    @extend_schema(request=RegisterInputSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    """POST logs in (email + password -> token); DELETE revokes the presented token."""

    # Brute force: limited per client IP and per targeted account's failures
    # (accounts/login_policy.py, docs/login-policy.md).
    def get_throttle_scopes(self, request: Request) -> list[str]:
        if request.method != "POST":
            return []
        try:
            data = request.data
        except Exception:  # a malformed body is the view's 400 to give, not the throttle's
            data = None
        email = data.get("email") if isinstance(data, dict) else None
        return login_policy.login_throttle_scopes(
            request._request, email if isinstance(email, str) else None
        )

    def get_permissions(self) -> list:
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_authenticators(self) -> list:
        # Login needs no authentication, and must not fail on a stale token header.
        if self.request is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    @extend_schema(request=TokenInputSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        data = TokenInputSerializer(data=request.data)
        if not data.is_valid():
            login_policy.login_not_attempted(request._request)
            data.is_valid(raise_exception=True)
        try:
            token = services.token_obtain(**data.validated_data)
        except InvalidCredentials:
            login_policy.login_failed(request._request, email=data.validated_data["email"])
            raise
        login_policy.login_succeeded(request._request, user=token.user)
        return Response(TokenSerializer(token).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        services.token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)
