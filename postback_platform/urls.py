from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from monitoring.views import metrics
from reporting.landing import admin_login

from . import dashboard, health

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin-dashboard"),
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("events.urls")),
    path("api/v1/", include("deliveries.urls")),
    path("api/v1/", include("partners.urls")),
    path("api/v1/", include(("reporting.urls", "reporting"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

# Unknown paths under /api/ answer JSON in the API's error format.
handler404 = "postback_platform.api_errors.not_found"

admin.site.site_header = "Postback platform"
admin.site.site_title = "Postback platform"
admin.site.index_title = "Operations"
