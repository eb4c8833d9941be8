from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import EventViewSet, PlayerEraseView

router = SimpleRouter()
router.register("events", EventViewSet, basename="event")

urlpatterns = [
    # path: a player id may hold a slash (sent as %2F).
    path("players/<path:player_id>/erase/", PlayerEraseView.as_view(), name="player-erase"),
    *router.urls,
]
