from django.db import models
from django.utils import timezone


class Alert(models.Model):
    """One incident: opened when a rule starts firing, resolved when it stops.

    Managers are told once when it opens and once when it resolves, however
    many failures happen in between. ``key`` names what fires (the rule and
    its endpoint); at most one alert per key is open at a time.
    """

    class Kind(models.TextChoices):
        ENDPOINT_PAUSED = "endpoint_paused", "Endpoint paused automatically"
        CIRCUIT_OPEN = "circuit_open", "Endpoint circuit open"
        FAILURE_RATE = "failure_rate", "Endpoint failure rate over threshold"
        BACKLOG_AGE = "backlog_age", "Oldest due delivery too old"
        PARTITIONS_AHEAD = "partitions_ahead", "Partitions for the months ahead running out"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=100)
    endpoint = models.ForeignKey(
        "partners.PostbackEndpoint", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    summary = models.CharField(max_length=500)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    opened_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_notified_at = models.DateTimeField(null=True, blank=True)
    notification_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Once per incident: a second evaluator racing the first cannot open a duplicate.
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(resolved_at__isnull=True), name="one_open_alert_per_key"
            ),
        ]
        indexes = [
            # The admin list and the dashboard: newest first.
            models.Index(fields=["opened_at"], name="alert_opened"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
