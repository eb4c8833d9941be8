import re

from django.conf import settings
from django.db import models
from django.utils import timezone

# An id the platform sends (event, player) and a click id: their columns' widths, which the API checks first.
ID_MAX_LENGTH = 128
CLICK_ID_MAX_LENGTH = 256
# Never part of an id; in a query parameter or a stored value they only break CSV lines and log lines.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

class EventType(models.Model):
    """A kind of player event. Built-ins are seeded; managers may add more."""

    REGISTRATION = "registration"
    FIRST_DEPOSIT = "first_deposit"
    DEPOSIT = "deposit"
    GAME_ACTIVITY = "game_activity"
    WITHDRAWAL = "withdrawal"
    CONVERSION = "conversion"
    # Made by the platform itself, never ingested as such: the reversal of a stored event,
    # and a player meeting a partner's qualification rule.
    REVERSAL = "reversal"
    QUALIFIED = "qualified"
    DERIVED = (REVERSAL, QUALIFIED)
    BUILTIN = (REGISTRATION, FIRST_DEPOSIT, DEPOSIT, GAME_ACTIVITY, WITHDRAWAL, CONVERSION, *DERIVED)
    MONETARY = (FIRST_DEPOSIT, DEPOSIT, WITHDRAWAL)

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    requires_amount = models.BooleanField(default=False)
    is_builtin = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Player(models.Model):
    """A platform player and the attribution it was bound with.

    The platform's own id is the primary key, so events can reference a
    player without a look-up and batch inserts need no id round trip.
    """

    player_id = models.CharField(max_length=ID_MAX_LENGTH, primary_key=True)
    # Foreign keys here and on Event and Delivery lead a composite index in Meta, which
    # serves the same look-ups: a second index on the bare column only costs every insert.
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="players", db_index=False
    )
    click_id = models.CharField(max_length=CLICK_ID_MAX_LENGTH, blank=True)
    tracking_params = models.JSONField(default=dict, blank=True)
    attributed_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    first_deposit_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("erase_player", "Can erase a player's personal values")]
        indexes = [
            # Admin search and statistics by partner.
            models.Index(fields=["partner", "registered_at"], name="player_partner_registered"),
            # Statistics' cohorts of players by registration day, over every partner.
            models.Index(fields=["registered_at"], name="player_registered"),
        ]

    def __str__(self) -> str:
        return self.player_id


class Event(models.Model):
    """One thing a player did, as the platform reported it, or the reversal of one."""

    class ReversalReason(models.TextChoices):
        CHARGEBACK = "chargeback", "Chargeback"
        FRAUD = "fraud", "Fraud"
        CANCELLED = "cancelled", "Cancelled"

    event_id = models.CharField(
        max_length=ID_MAX_LENGTH, unique=True, help_text="The platform's id, unique across all events."
    )
    type = models.ForeignKey(EventType, to_field="slug", on_delete=models.PROTECT, related_name="events", db_index=False)
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="events", db_index=False)
    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        help_text="The partner the player is attributed to, when the event was stored.",
    )
    click_id = models.CharField(max_length=CLICK_ID_MAX_LENGTH, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    params = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    is_first_deposit = models.BooleanField(default=False)
    is_test = models.BooleanField(default=False, help_text="Made by a test postback; left out of statistics.")
    content_hash = models.CharField(
        max_length=64, help_text="Digest of the submitted content, to tell a replay from a conflicting reuse."
    )
    reversed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the platform reversed this event; its amount and payout stop counting."
    )
    # On a reversal event: the event it reverses and why. One reversal per event: a reversal
    # locks its original and takes the event_id reversal-of-<id> (ingest.reversals).
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # db_default: rows written by raw inserts (ingest, bulk loads) leave the column out.
    reversal_reason = models.CharField(
        max_length=16, choices=ReversalReason.choices, blank=True, default="", db_default=""
    )

    class Meta:
        # No unique constraint here can span the monthly partitions on PostgreSQL
        # (lib.partitioning): event_id's uniqueness is kept by a key table there, one first deposit
        # per player by the player's row lock (ingest.services), one reversal per event as above.
        indexes = [
            # Status API and exports: events of a partner / type in a time range.
            models.Index(fields=["partner", "occurred_at"], name="event_partner_occurred"),
            models.Index(fields=["type", "occurred_at"], name="event_type_occurred"),
            models.Index(fields=["occurred_at"], name="event_occurred"),
            # A player's history, newest first.
            models.Index(fields=["player", "occurred_at"], name="event_player_occurred"),
            # Admin search by click id. Partial: most events carry none, and
            # ingest should not pay for indexing empty strings.
            models.Index(fields=["click_id"], name="event_click_id", condition=~models.Q(click_id="")),
            # An event's reversal (and retention clearing links into a month it drops). Partial: few events have one.
            models.Index(fields=["reverses"], name="event_reverses", condition=models.Q(reverses__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} {self.event_id}"


class PlayerErasure(models.Model):
    """The record of one erasure request: who asked, when, and how many rows it changed.

    It never holds the erased values. ``pseudonym`` is the id the player's rows
    carry since (a keyed digest of the erased id, see ``events.pseudonyms``),
    so an operator can find them again; it cannot be turned back into the id.
    """

    pseudonym = models.CharField(max_length=128, db_index=True, help_text="The erased player's id since.")
    erased_at = models.DateTimeField(default=timezone.now)
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The API key that asked, when it came through the API.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The admin user who asked, when it came through the admin.",
    )
    requested_by = models.CharField(
        max_length=200, help_text="Who asked, as named at the time (kept when the key or user is deleted)."
    )
    already_erased = models.BooleanField(
        default=False, help_text="The player had been erased before; this request only cleared what was left."
    )
    players = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=0)
    deliveries_cancelled = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    statistics_days = models.PositiveIntegerField(
        default=0, help_text="Reporting days marked for the statistics' next refresh."
    )

    class Meta:
        ordering = ["-erased_at"]

    def __str__(self) -> str:
        return f"erasure of {self.pseudonym} at {self.erased_at:%Y-%m-%d %H:%M:%S}"
