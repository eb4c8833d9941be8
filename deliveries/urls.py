from rest_framework.routers import SimpleRouter

from .api import DeliveryViewSet, EndpointTryViewSet

router = SimpleRouter()
router.register("deliveries", DeliveryViewSet, basename="delivery")
# Actions on an endpoint that go through the sender; the endpoint itself is served by partners.urls.
router.register(r"partners/(?P<partner_slug>[-a-zA-Z0-9_]+)/endpoints", EndpointTryViewSet, basename="partner-endpoint")

urlpatterns = router.urls
