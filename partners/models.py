from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .choices import AuthType, BodyFormat, Method

# How the sender begins the reason when it disables an endpoint whose circuit stayed open too long;
# a manager's own pause carries another reason, and only the sender's raises an alert.
AUTO_PAUSE_REASON_PREFIX = "Paused automatically"
# The longest a partner may take to answer; the statistics' roll-up sizes its look-back from it.
ENDPOINT_TIMEOUT_MAX_SECONDS = 60
HOLD_HOURS_MAX = 24 * 90  # a chargeback window is weeks at most; longer is a typo

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

    # Defined beside the model so that validation, credentials and signing can use them without it.
    Method, BodyFormat, AuthType = Method, BodyFormat, AuthType

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=200)
    url_template = models.CharField(max_length=2000)
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.GET)
    body_format = models.CharField(max_length=8, choices=BodyFormat.choices, default=BodyFormat.JSON)
    body_template = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Extra request headers; values may use macros.")
    event_types = models.ManyToManyField("events.EventType", related_name="endpoints")
    event_names = models.JSONField(
        default=dict, blank=True,
        help_text='The partner\'s name for each event type, as {event_name}: {"registration": "lead"}. '
        "Unmapped types keep their own name; an empty name renders empty.",
    )
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
    refused_body_contains = models.CharField(
        max_length=200, blank=True,
        help_text="When set, an answer whose body contains this is a refusal: failed at once, never retried.",
    )
    # Name → value, write-only like the signing secret: templates use them as {secret.NAME}, and
    # every request shown or stored carries a mask in their place (see deliveries.rendering).
    credentials = models.JSONField(default=dict, blank=True)
    auth_type = models.CharField(max_length=32, choices=AuthType.choices, default=AuthType.NONE)
    oauth_token_url = models.CharField(
        max_length=2000, blank=True, help_text="OAuth2: the partner's token URL (https://partner.example/oauth/token)."
    )
    oauth_scope = models.CharField(max_length=500, blank=True, help_text="OAuth2: the scope to ask for, if any.")
    signing_secret = models.CharField(max_length=200, blank=True)
    previous_signing_secret = models.CharField(max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per second across all workers; empty means no limit."
    )
    ordered_per_player = models.BooleanField(
        default=True,
        help_text="Send each player's postbacks in turn, in the order of their events (a registration never after "
        "its first deposit, a reversal never before its original). Turn off for throughput when the partner does "
        "not care about order.",
    )
    hold_hours = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(HOLD_HOURS_MAX)],
        help_text="Hold postbacks of the event types below this many hours after their event happened, and send "
        "them only if the event was not reversed meanwhile (a chargeback window); 0 sends at once.",
    )
    hold_event_types = models.JSONField(
        default=list, blank=True,
        help_text='The event types held, as a list: ["first_deposit", "qualified"]. Each must be one the endpoint '
        "receives.",
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
            # Credentials are write-only, never a form field of their own: their reason heads the form.
            if "credentials" in errors:
                errors["__all__"] = errors.pop("credentials")
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


class QualificationRule(models.Model):
    """When a partner's player counts as qualified (CPA): conditions over its events within a window.

    Every condition that is set must hold; money conditions count events in the
    rule's currency only. Each player qualifies at most once per rule, ever:
    changing a rule never qualifies a player again.
    """

    class WindowStart(models.TextChoices):
        REGISTRATION = "registration", "Registration"
        FIRST_DEPOSIT = "first_deposit", "First deposit"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="qualification_rules")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    window_start = models.CharField(max_length=16, choices=WindowStart.choices, default=WindowStart.REGISTRATION)
    window_days = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Only events within this many days from the window's start count.",
    )
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217; required with any money condition.")
    min_first_deposit = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))],
        help_text="The first deposit is at least this much.",
    )
    min_deposit_count = models.PositiveIntegerField(null=True, blank=True, help_text="At least this many deposits.")
    min_deposit_sum = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))],
        help_text="Deposits add up to at least this much.",
    )
    wager_param = models.CharField(
        max_length=64, default="wager", help_text="The game_activity param that holds the amount wagered."
    )
    min_wager_sum = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))],
        help_text="Wagers (the param above, on game_activity events) add up to at least this much.",
    )
    allowed_countries = models.JSONField(
        default=list, blank=True,
        help_text='ISO 3166 codes, e.g. ["DE", "AT"]; the player\'s params.country must be one. Empty: any.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    MONEY_CONDITIONS = ("min_first_deposit", "min_deposit_sum", "min_wager_sum")
    CONDITIONS = (*MONEY_CONDITIONS, "min_deposit_count", "allowed_countries")

    class Meta:
        ordering = ["partner", "name"]

    def __str__(self) -> str:
        return f"{self.partner}: {self.name}"

    def clean(self) -> None:
        errors = {}
        if not any(getattr(self, name) not in (None, []) for name in self.CONDITIONS):
            errors["__all__"] = "Set at least one condition: a first deposit, deposits, wagers or countries."
        if any(getattr(self, name) is not None for name in self.MONEY_CONDITIONS) and not self.currency:
            errors["currency"] = "Required with a money condition: an ISO 4217 code such as EUR."
        if not isinstance(self.allowed_countries, list) or not all(
            isinstance(code, str) and len(code) == 2 and code.isalpha() and code.isupper()
            for code in self.allowed_countries
        ):
            errors["allowed_countries"] = 'A list of two-letter upper-case country codes, e.g. ["DE", "AT"].'
        if errors:
            raise ValidationError(errors)


class Qualification(models.Model):
    """A player met a qualification rule: when, by which events, and the ``qualified`` event it produced."""

    rule = models.ForeignKey(QualificationRule, on_delete=models.PROTECT, related_name="qualifications")
    player = models.ForeignKey("events.Player", on_delete=models.CASCADE, related_name="qualifications")
    event = models.OneToOneField(
        "events.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="qualification"
    )
    met_by = models.JSONField(default=list, help_text="The platform's ids of the events that met the rule.")
    qualified_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Exactly once per player and rule, even when two of its events arrive at once.
            models.UniqueConstraint(fields=["rule", "player"], name="one_qualification_per_rule_player"),
        ]

    def __str__(self) -> str:
        return f"{self.player_id} qualified by {self.rule}"
