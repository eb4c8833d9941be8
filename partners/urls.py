from rest_framework.routers import SimpleRouter

from .api import EndpointViewSet, PartnerViewSet, PayoutRuleViewSet, QualificationRuleViewSet

router = SimpleRouter()
router.register("partners", PartnerViewSet, basename="partner")
router.register(r"partners/(?P<partner_slug>[-a-zA-Z0-9_]+)/endpoints", EndpointViewSet, basename="partner-endpoint")
router.register(r"partners/(?P<partner_slug>[-a-zA-Z0-9_]+)/payouts", PayoutRuleViewSet, basename="partner-payout")
router.register(
    r"partners/(?P<partner_slug>[-a-zA-Z0-9_]+)/qualification-rules", QualificationRuleViewSet,
    basename="partner-qualification-rule",
)

urlpatterns = router.urls
