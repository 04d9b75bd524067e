"""The project's URLs plus two views for the logging tests: one that logs, one that crashes."""

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

logger = logging.getLogger("tests.observability.views")


def chatty(request: HttpRequest) -> HttpResponse:
    logger.warning("inside the view", extra={"order": 7})
    return HttpResponse("ok")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("kaboom")


urlpatterns = [
    path("test/chatty/", chatty),
    path("test/boom/", boom),
    path("", include("config.urls")),
]

handler404 = "core.http.views.not_found"
handler500 = "core.http.views.server_error"
