"""Two views and nothing else in front of them."""

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path

from bench.minimal.models import Post


def constant_json(request: HttpRequest) -> JsonResponse:
    """TechEmpower's JSON test: a constant object, serialized per request."""
    return JsonResponse({"message": "Hello, World!"})


def one_query(request: HttpRequest, slug: str) -> JsonResponse:
    """One ORM query by slug, the row serialized: the floor of an uncached post detail."""
    post = Post.objects.filter(slug=slug).values("slug", "title", "excerpt", "body").first()
    if post is None:
        raise Http404
    return JsonResponse(post)


urlpatterns = [
    path("json", constant_json),
    path("db/<slug:slug>", one_query),
    # GunicornServer waits for /healthz before it calls a server started.
    path("healthz", constant_json),
]
