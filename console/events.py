from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from deliveries.models import Delivery
from events.currencies import money_text
from events.models import Event, EventType, Player, PlayerErasure
from events.params import params_inherited
from ingest.erasure import PlayerErasureLimit, player_erase
from reporting.exports import EVENT_COLUMNS

from .export import CsvExportAdminMixin
from .filters import PREFIX_MATCHES_MAX, ExactSearchMixin, RecentListFilter
from .paginator import HugeTableAdminMixin
from .permissions import ReadOnlyAdminMixin

UNATTRIBUTED = "(unattributed)"

# An erasure locks and rewrites every row of the player: a bounded number per request keeps it short.
MAX_ERASURES_PER_ACTION = 20


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "requires_amount", "is_builtin"]

    def has_delete_permission(self, request, obj=None):
        # Built-in types are never deleted; custom ones only with the delete permission.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.is_builtin)


@admin.register(Player)
class PlayerAdmin(ExactSearchMixin, HugeTableAdminMixin, admin.ModelAdmin):
    list_display = ["player_id", "partner", "click_id", "registered_at", "first_deposit_at"]
    list_select_related = ["partner"]
    exact_search_tiers = (("player_id",),)
    prefix_search_tiers = (("player_id",),)
    search_help_text = "An exact player id; if none matches, player ids that start with it (case-sensitive)."
    list_filter = ["partner"]
    raw_id_fields = ["partner"]
    actions = ["erase"]

    @admin.action(description="Erase selected players' personal values", permissions=["erase"])
    def erase(self, request, queryset):
        players = list(queryset.order_by("player_id")[: MAX_ERASURES_PER_ACTION + 1])
        if len(players) > MAX_ERASURES_PER_ACTION:
            self.message_user(
                request, f"Select at most {MAX_ERASURES_PER_ACTION} players to erase at a time.", messages.ERROR
            )
            return None
        if request.POST.get("confirmed") != "yes":
            return self._erase_confirmation(request, players)
        erasures = []
        for player in players:
            try:
                erasures.append(player_erase(player_id=player.player_id, user=request.user))
            except PlayerErasureLimit as exc:
                self.message_user(request, f"{player.player_id}: {exc}", messages.WARNING)
        events = sum(erasure.events for erasure in erasures)
        cancelled = sum(erasure.deliveries_cancelled for erasure in erasures)
        self.message_user(
            request,
            f"Erased {len(erasures)} players: {events} events pseudonymised, {cancelled} open deliveries cancelled. "
            "The erasure records list the rest.",
        )
        return None

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("events.erase_player")

    def _erase_confirmation(self, request, players: list[Player]) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase players' personal values?",
            "opts": self.model._meta,
            "players": players,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/events/player/erase_confirmation.html", context)


class EventRecentFilter(RecentListFilter):
    title = "occurred"
    field_name = "occurred_at"


class UnattributedPartnerFilter(admin.RelatedFieldListFilter):
    """The partner filter, whose "no partner" choice says what it means."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = UNATTRIBUTED


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["partner", "endpoint", "event_type", "status", "attempt_count", "last_status_code", "last_error"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "endpoint__partner")


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, ExactSearchMixin, CsvExportAdminMixin, HugeTableAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "type_slug", "player_link", "partner_name", "amount_text", "occurred_at", "is_test"]
    list_filter = [EventRecentFilter, "type", ("partner", UnattributedPartnerFilter)]
    list_select_related = ["partner"]
    readonly_fields = ["inherited_params"]
    exact_search_tiers = (("event_id", "player_id"),)
    # Each its own tier: an OR of the two would keep PostgreSQL from using either index.
    prefix_search_tiers = (("event_id",), ("player",))
    # Click ids have no index of their own: looking one up scans the table, so it comes last, only when no event
    # or player id matches, exactly or as a prefix.
    late_exact_search_tiers = (("click_id",),)
    search_help_text = (
        "An exact event id or player id; if none matches, event ids and then player ids that start with it "
        "(case-sensitive); if none does either, an exact click id."
    )
    ordering = ["-occurred_at"]
    inlines = [DeliveryInline]
    csv_columns, csv_filename = EVENT_COLUMNS, "events"

    @admin.display(description="Type", ordering="type")
    def type_slug(self, event):
        return event.type_id

    def prefix_q(self, field, term):
        if field == "player":
            # Through the players table, whose primary key has a pattern index; events' player column has none.
            players = Player.objects.filter(player_id__startswith=term).order_by("player_id").values("pk")
            return Q(player__in=players[:PREFIX_MATCHES_MAX])
        return super().prefix_q(field, term)

    @admin.display(description="Partner", ordering="partner")
    def partner_name(self, event):
        return event.partner.name if event.partner else UNATTRIBUTED

    @admin.display(description="Amount", ordering="amount")
    def amount_text(self, event):
        return "" if event.amount is None else money_text(event.amount, event.currency)

    @admin.display(description="Inherited params")
    def inherited_params(self, event):
        # Postbacks render these as {params.NAME}, beside the event's own params.
        return params_inherited(params=event.params, tracking_params=event.player.tracking_params) or "—"

    @admin.display(description="Player", ordering="player")
    def player_link(self, event):
        url = reverse("admin:events_player_change", args=[event.player_id])
        return format_html('<a href="{}">{}</a>', url, event.player_id)


@admin.register(PlayerErasure)
class PlayerErasureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who erased which pseudonymised player, when, and how many rows changed: never the erased values."""

    list_display = [
        "erased_at", "player_link", "requested_by", "already_erased", "events", "deliveries", "deliveries_cancelled",
        "attempts",
    ]
    list_filter = ["already_erased"]
    search_fields = ["=pseudonym"]
    search_help_text = "Exact pseudonym."
    date_hierarchy = "erased_at"
    fields = [
        "pseudonym", "erased_at", "requested_by", "api_key", "user", "already_erased", "players", "events",
        "deliveries", "deliveries_cancelled", "attempts", "statistics_days",
    ]

    @admin.display(description="Player", ordering="pseudonym")
    def player_link(self, erasure):
        url = reverse("admin:events_player_change", args=[erasure.pseudonym])
        return format_html('<a href="{}">{}</a>', url, erasure.pseudonym)
