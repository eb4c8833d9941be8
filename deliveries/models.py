from django.db import models
from django.utils import timezone


class Delivery(models.Model):
    """One event going to one postback endpoint.

    The row is the outbox: it is written in the same transaction as its
    event, and whatever is due here gets sent, whether or not a broker
    message for it survived.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.PENDING, Status.RETRYING)

    # These three lead a composite index below, which serves their look-ups and cascades;
    # a separate index on each bare column would only cost inserts.
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(
        "partners.PostbackEndpoint", on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event_type = models.ForeignKey(
        "events.EventType",
        to_field="slug",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # indexed in Meta: without the pattern-ops twin Django adds for a text key
        help_text="The type this endpoint receives the event as (first_deposit for a player's first deposit).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    is_test = models.BooleanField(default=False)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    retry_base = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="attempt_count when last resent; max_attempts counts from here."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    order_key = models.BigIntegerField(
        null=True, blank=True, editable=False,
        help_text="The player's ordering key (deliveries.ordering): one player's postbacks reach an endpoint in turn.",
    )
    held_until = models.DateTimeField(
        null=True, blank=True,
        help_text="The endpoint's hold period: not sent before then, and cancelled if the event is reversed first.",
    )
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="Lease: a sender holds the delivery until then; after it, anyone may retry."
    )
    claimed_by = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    request_method = models.CharField(max_length=4, blank=True)
    request_url = models.TextField(blank=True)
    request_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # An event's deliveries. Not unique: a unique index cannot span the monthly partitions
            # (lib.partitioning), and an event's deliveries are made once, in the event's own transaction.
            models.Index(fields=["event", "endpoint"], name="delivery_event_endpoint"),
            # The scheduler's claim: open deliveries whose next attempt is due,
            # oldest first. Partial, so it stays small however much history piles up.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            # The sender's claim, per endpoint: an endpoint's oldest due deliveries (see sender._CLAIM_POSTGRESQL).
            # With the claim's whole order (id breaks ties), so each month's partition hands over its rows in
            # order and the claim merges them, reading as many as it takes; without id the planner read and
            # sorted an endpoint's whole backlog on every claim.
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                name="delivery_endpoint_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            # The claim's check for an earlier open delivery of the same player to the same endpoint.
            models.Index(
                fields=["endpoint", "order_key", "id"],
                name="delivery_player_order",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            # Open deliveries in a hold period (the console's "held" count and filter): few rows, however big the table.
            models.Index(
                fields=["held_until"],
                name="delivery_open_held",
                condition=models.Q(status__in=["pending", "retrying"], held_until__isnull=False),
            ),
            # The claim's count of what each endpoint has out with a sender: only leased rows are in it.
            models.Index(fields=["endpoint", "claimed_until"], name="delivery_leased", condition=~models.Q(claimed_by="")),
            # Delivery lists and the admin: by status / partner / endpoint, newest first.
            models.Index(fields=["status", "created_at"], name="delivery_status_created"),
            models.Index(fields=["partner", "created_at"], name="delivery_partner_created"),
            # A partner's deliveries in one state ("retrying for acme"): with only the two
            # indexes above PostgreSQL scanned a partner's whole history (5 s at 20M rows).
            models.Index(fields=["partner", "status", "created_at"], name="delivery_partner_status"),
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["created_at"], name="delivery_created"),
            # Lists filtered by a rare type, and the PROTECT check when a type is deleted. Only equality is
            # asked of it: the LIKE-capable twin a bare foreign key to a slug gets would cost each insert for nothing.
            models.Index(fields=["event_type"], name="delivery_event_type"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"

    @property
    def held_reason(self) -> str:
        """Why an open delivery is waiting: its endpoint or partner is paused, its circuit open, or a hold period."""
        if self.status not in self.OPEN_STATUSES:
            return ""
        if not self.partner.is_active:
            return f"partner {self.partner.slug} is paused"
        if not self.endpoint.is_active:
            reason = self.endpoint.pause_reason
            return f"endpoint is paused: {reason}" if reason else "endpoint is paused"
        if self.endpoint.circuit_opened_at is not None:
            return "the endpoint's circuit is open: held until a probe succeeds"
        if self.held_until is not None and self.held_until > timezone.now():
            return (f"the endpoint's hold period: held until {self.held_until:%Y-%m-%d %H:%M:%S} UTC, "
                    "and cancelled if the event is reversed before then")
        return ""

    @property
    def is_held(self) -> bool:
        return bool(self.held_reason)


class DeliveryAttempt(models.Model):
    """One HTTP exchange for a delivery.

    The row is written before the request goes out and completed after it,
    so a worker that dies mid-send still leaves a trace.
    """

    class Outcome(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        SUCCESS = "success", "Success"
        RETRY = "retry", "Failed, will retry"
        FAILURE = "failure", "Failed permanently"

    # one_attempt_number_per_delivery (delivery, number) serves the look-ups by delivery.
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.IN_FLIGHT)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_method = models.CharField(max_length=4)
    request_url = models.TextField()
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    error_class = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_number_per_delivery"),
        ]
        indexes = [
            # Retention: prune bodies of attempts older than N days.
            models.Index(fields=["started_at"], name="attempt_started"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class Heartbeat(models.Model):
    """Last time a periodic process proved it was alive (readiness checks read it)."""

    name = models.CharField(max_length=64, unique=True)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
