"""URL wiring: the versioned API, operations endpoints, the admin and the schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import login_policy
from core.http.views import ApiDocsView
from core.observability import views as observability_views
from core.operations import views as operations_views
from core.throttling.django_views import throttled

# The admin index links the staff operations dashboard.
admin.site.index_template = operations_views.ADMIN_INDEX_TEMPLATE

api_v1 = [
    path("auth/", include("accounts.api.urls")),
    path("blog/", include("blog.api.urls")),
    path("", include("bookings.api.urls")),
    path("payments/", include("payments.api.urls")),
    path("reviews/", include("reviews.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the docs' CSP needs no inline JS.
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="docs"),
    path("healthz", observability_views.healthz, name="healthz"),
    path("readyz", observability_views.readyz, name="readyz"),
    path("metrics", observability_views.metrics, name="metrics"),
    # Brute force on the staff login: the same per-IP and per-account limits as the API's.
    path(
        "admin/login/",
        throttled(
            admin.site.login,
            scopes=login_policy.login_throttle_scopes,
            after=login_policy.admin_login_finished,
        ),
        name="admin-login",
    ),
    # Staff only (admin_view: anyone else is sent to the admin login).
    path(
        "admin/operations/",
        admin.site.admin_view(operations_views.operations_dashboard),
        name="admin-operations",
    ),
    path("admin/", admin.site.urls),
]

handler400 = "core.http.views.bad_request"
handler403 = "core.http.views.permission_denied"
handler404 = "core.http.views.not_found"
handler500 = "core.http.views.server_error"
