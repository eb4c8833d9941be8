from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from console import dashboard
from lib.api_errors import not_found
from monitoring.views import metrics
from reporting.landing import admin_login

from . import health

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin-dashboard"),
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("ingest.urls")),
    path("api/v1/", include("deliveries.urls")),
    path("api/v1/", include("partners.urls")),
    path("api/v1/", include(("reporting.urls", "reporting"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Any other path under /api/ that ends in a slash (a path parameter the routes do not take, such
    # as an empty slug or a non-numeric id) answers JSON in the API's error format, with DEBUG on too,
    # where Django would show its HTML page. Paths without the slash are left to APPEND_SLASH.
    re_path(r"^api/(?:[\s\S]*/)?$", csrf_exempt(not_found), name="api-not-found"),
]

# Unknown paths under /api/ answer JSON in the API's error format.
handler404 = "lib.api_errors.not_found"

admin.site.site_header = "Postback platform"
admin.site.site_title = "Postback platform"
admin.site.index_title = "Operations"
