from rest_framework.routers import SimpleRouter

from .api import EndpointViewSet, PartnerViewSet, PayoutRuleViewSet

router = SimpleRouter()
router.register("partners", PartnerViewSet, basename="partner")
router.register(r"partners/(?P<partner_slug>[-a-zA-Z0-9_]+)/endpoints", EndpointViewSet, basename="partner-endpoint")
router.register(r"partners/(?P<partner_slug>[-a-zA-Z0-9_]+)/payouts", PayoutRuleViewSet, basename="partner-payout")

urlpatterns = router.urls
