from django.urls import path

from . import api

urlpatterns = [
    path("stats/", api.StatsView.as_view(), name="stats"),
    path("export/stats.csv", api.StatsCsvView.as_view(), name="export-stats"),
    path("export/events.csv", api.EventsCsvView.as_view(), name="export-events"),
    path("export/deliveries.csv", api.DeliveriesCsvView.as_view(), name="export-deliveries"),
]
