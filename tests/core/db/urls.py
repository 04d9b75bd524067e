"""The product's URLs plus one test endpoint that shows which data a read saw."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User


class ReplicaProbeView(APIView):
    """GET: what the reader sees (user count, own name). POST: the caller renames themselves."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        own = User.objects.filter(pk=request.user.pk).values_list("name", flat=True).first()
        return Response({"users": User.objects.count(), "name": own})

    def post(self, request: Request) -> Response:
        User.objects.filter(pk=request.user.pk).update(name=request.data["name"])
        return Response(status=204)


urlpatterns = [
    path("test/replica-probe/", ReplicaProbeView.as_view()),
    path("", include("config.urls")),
]
