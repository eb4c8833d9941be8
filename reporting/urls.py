from django.urls import path

from . import api

urlpatterns = [
    path("stats/", api.StatsView.as_view(), name="stats"),
    path("export/stats.csv", api.StatsCsvView.as_view(), name="export-stats"),
]
