"""The product's URLs plus ``/bench/noop``: the cheapest request Django on this gunicorn can answer."""

from django.http import HttpResponse
from django.urls import path

from postback_platform.urls import urlpatterns as product_urlpatterns


def noop(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/noop", noop), *product_urlpatterns]
