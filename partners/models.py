from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


# How the sender begins the reason when it disables an endpoint whose circuit stayed open too long;
# a manager's own pause carries another reason, and only the sender's raises an alert.
AUTO_PAUSE_REASON_PREFIX = "Paused automatically"
# The longest a partner may take to answer; the statistics' roll-up sizes its look-back from it.
ENDPOINT_TIMEOUT_MAX_SECONDS = 60

class Partner(models.Model):
    """An affiliate, ad network or analytics system that receives postbacks."""

    class Scope(models.TextChoices):
        ATTRIBUTED = "attributed", "Attributed players only (affiliate)"
        ALL = "all", "Every event (analytics / global postback)"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ATTRIBUTED)
    is_active = models.BooleanField(default=True, help_text="A paused partner's deliveries are held, not dropped.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PostbackEndpoint(models.Model):
    """Where and how one partner wants to hear about events."""

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    class BodyFormat(models.TextChoices):
        JSON = "json", "JSON"
        FORM = "form", "Form (application/x-www-form-urlencoded)"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=200)
    url_template = models.CharField(max_length=2000)
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.GET)
    body_format = models.CharField(max_length=8, choices=BodyFormat.choices, default=BodyFormat.JSON)
    body_template = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Extra request headers; values may use macros.")
    event_types = models.ManyToManyField("events.EventType", related_name="endpoints")
    filters = models.JSONField(
        default=list, blank=True, help_text="Conditions on event fields and params; all must hold."
    )
    timeout_seconds = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal(ENDPOINT_TIMEOUT_MAX_SECONDS))],
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    success_body_contains = models.CharField(
        max_length=200, blank=True, help_text="When set, a 2xx counts as success only if the body contains this."
    )
    signing_secret = models.CharField(max_length=200, blank=True)
    previous_signing_secret = models.CharField(max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per second across all workers; empty means no limit."
    )
    circuit_failure_threshold = models.PositiveIntegerField(
        default=50,
        help_text="Open the circuit (hold deliveries, probe the partner) after this many consecutive failed attempts; "
        "0 never opens it.",
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    # The circuit breaker: open since circuit_opened_at (None when closed); one held delivery goes out as a
    # probe at circuit_next_probe_at, the wait doubling from probe to probe (circuit_probe_seconds).
    circuit_opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    circuit_next_probe_at = models.DateTimeField(null=True, blank=True, editable=False)
    circuit_probe_seconds = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    is_active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner__name", "name"]
        verbose_name = "postback endpoint"

    def __str__(self) -> str:
        return f"{self.partner} · {self.name}"

    @property
    def circuit_state(self) -> str:
        return "open" if self.circuit_opened_at else "closed"

    def clean(self) -> None:
        from .validation import endpoint_changes_errors  # validation imports this module

        if errors := endpoint_changes_errors(self, {}):
            raise ValidationError(errors)


class PayoutRule(models.Model):
    """What a partner earns for one event type: a fixed CPA or a share of the amount."""

    class Kind(models.TextChoices):
        FIXED = "fixed", "Fixed (CPA)"
        PERCENT = "percent", "Percent of amount (RevShare)"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="payout_rules")
    event_type = models.ForeignKey("events.EventType", to_field="slug", on_delete=models.PROTECT)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.DecimalField(max_digits=18, decimal_places=4, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, help_text="ISO 4217; for percent rules, the event's currency applies.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "event_type"], name="one_payout_rule_per_partner_type"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.event_type_id}: {self.value} {self.kind}"
