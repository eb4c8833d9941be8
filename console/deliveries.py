from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from deliveries import selectors as delivery_reads
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.services import (
    DeliveryStateError,
    deliveries_cancel,
    deliveries_resend,
    delivery_cancel,
    delivery_resend,
)
from events.models import Event
from partners.models import PostbackEndpoint
from reporting.exports import DELIVERY_COLUMNS

from .confirm import Confirmation, chosen, confirmation_response, history_write, is_confirmed
from .export import CsvExportAdminMixin
from .filters import PREFIX_MATCHES_MAX, RecentListFilter
from .paginator import HugeTableAdminMixin
from .permissions import ReadOnlyAdminMixin
from .times import console_time

FAILING_WINDOW = timedelta(hours=24)
# Characters of a delivery's last error the list shows; the rest is on hover and on the delivery's page.
LAST_ERROR_SHOWN = 40


class DeliveryRecentFilter(RecentListFilter):
    title = "created"
    field_name = "created_at"


class FailingNowFilter(admin.SimpleListFilter):
    """What a manager on call asks first: which postbacks are not getting through right now."""

    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("failing", "Failing now"), ("due", "Due now"), ("held", "Held on purpose")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "failing":
            # Both branches are ranges on the (status, created_at) index.
            return queryset.filter(
                Q(status=Delivery.Status.RETRYING)
                | Q(status=Delivery.Status.FAILED, created_at__gte=now - FAILING_WINDOW)
            )
        if self.value() == "due":
            # The scheduler's own partial index.
            return queryset.filter(status__in=Delivery.OPEN_STATUSES, next_attempt_at__lte=now).exclude(
                delivery_reads.held(now)
            ).exclude(delivery_reads.behind_an_earlier_one(now))
        if self.value() == "held":
            # Paused endpoint or partner, open circuit, hold period: waiting on purpose, not late.
            return queryset.filter(delivery_reads.held(now), status__in=Delivery.OPEN_STATUSES)
        return queryset


class EndpointFilter(admin.SimpleListFilter):
    """Endpoints named with their partner, loaded in one query (the default filter asks per endpoint)."""

    title = "endpoint"
    parameter_name = "endpoint__id__exact"

    def lookups(self, request, model_admin):
        endpoints = PostbackEndpoint.objects.select_related("partner").order_by("partner__name", "name")
        return [(str(endpoint.pk), str(endpoint)) for endpoint in endpoints]

    def queryset(self, request, queryset):
        return queryset.filter(endpoint_id=self.value()) if self.value() else queryset


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = [
        "number",
        "outcome",
        "started_at",
        "duration_ms",
        "request_line",
        "status_code",
        "response_excerpt",
        "error",
    ]
    readonly_fields = fields
    ordering = ["-number"]

    @admin.display(description="Request")
    def request_line(self, attempt):
        line = format_html("<code>{} {}</code>", attempt.request_method, attempt.request_url)
        if not attempt.request_body:
            return line
        return format_html('{}<pre class="console-body">{}</pre>', line, attempt.request_body)


@admin.register(Delivery)
class DeliveryAdmin(CsvExportAdminMixin, HugeTableAdminMixin, admin.ModelAdmin):
    # Fits a 1440 px screen beside the filters: partner and endpoint share a column, as do the event and
    # its type, and the last error is cut short (in full on hover and on the delivery's page).
    list_display = [
        "id",
        "status_badge",
        "recipient",
        "event_link",
        "attempts",
        "code",
        "last_error_short",
        "next_attempt",
        "created",
    ]
    # Every filter is served by an index (is_test is not: tests are rare, and an
    # endpoint's page lists its own).
    list_filter = [FailingNowFilter, "status", DeliveryRecentFilter, "partner", EndpointFilter, "event_type"]
    list_select_related = ["partner", "endpoint", "event"]
    search_fields = ["=event__event_id"]  # shows the box; get_search_results does the matching
    search_help_text = "An exact delivery id or event id; if none matches, event ids that start with it (case-sensitive)."
    ordering = ["-created_at"]
    inlines = [DeliveryAttemptInline]
    actions = ["resend", "cancel", "export_csv"]
    csv_columns, csv_filename = DELIVERY_COLUMNS, "deliveries"
    fieldsets = [
        (None, {"fields": ["event_link", "partner", "endpoint", "event_type", "status", "is_test"]}),
        ("Progress", {"fields": [
            "attempt_count", "next_attempt_at", "held_until", "held_reason", "delivered_at", "last_status_code",
            "last_error",
        ]}),
        ("Rendered request", {"fields": ["request_method", "request_url", "request_body"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    @admin.action(description="Resend selected deliveries", permissions=["change"])
    def resend(self, request, queryset):
        shares = delivery_reads.selection_by_endpoint(queryset)
        delivered = sum(share.delivered for share in shares)
        if not is_confirmed(request):
            return confirmation_response(self, request, _resend_confirmation(shares, delivered), action="resend")
        include_delivered = chosen(request, "include_delivered")
        queued = self._per_endpoint(
            request, queryset, shares,
            act=lambda rows: deliveries_resend(queryset=rows, include_delivered=include_delivered),
            history="Resent {count} of its deliveries from the deliveries list"
            + (" (already delivered ones included)" if include_delivered else " (already delivered ones left out)"),
        )
        selected = sum(share.total for share in shares)
        left_out = 0 if include_delivered else delivered
        self.message_user(request, f"Queued {queued} of {selected} selected deliveries to be sent again.")
        if left_out:
            self.message_user(request, f"{left_out} already delivered were left out, as chosen.")
        if queued < selected - left_out:
            self.message_user(
                request,
                f"{selected - left_out - queued} were being sent at that moment (or are of an erased player) and "
                "were left alone; resend them once they finish.",
                messages.WARNING,
            )

    @admin.action(description="Cancel selected deliveries", permissions=["change"])
    def cancel(self, request, queryset):
        shares = delivery_reads.selection_by_endpoint(queryset)
        if not is_confirmed(request):
            return confirmation_response(self, request, _cancel_confirmation(shares), action="cancel")
        cancelled = self._per_endpoint(
            request, queryset, shares, act=lambda rows: deliveries_cancel(queryset=rows),
            history="Cancelled {count} of its deliveries from the deliveries list",
        )
        self.message_user(request, f"Cancelled {cancelled} deliveries; they stay on record and can be resent.")
        others = sum(share.total for share in shares) - cancelled
        if others:
            self.message_user(
                request,
                f"{others} were not cancelled: only pending or retrying deliveries can be (the others were "
                "delivered, failed or cancelled already, or finished meanwhile).",
                messages.WARNING,
            )

    @staticmethod
    def _per_endpoint(request, queryset, shares, *, act, history: str) -> int:
        """Apply ``act`` endpoint by endpoint, so each endpoint's history gets its own exact count."""
        done = 0
        endpoints = PostbackEndpoint.objects.in_bulk([share.endpoint_id for share in shares])
        for share in shares:
            count = act(queryset.filter(endpoint_id=share.endpoint_id))
            done += count
            if count:
                endpoint = endpoints[share.endpoint_id]
                history_write(request, [endpoint], history.format(count=count))
        return done

    def get_urls(self):
        own = [
            path("<int:pk>/resend/", self.admin_site.admin_view(self.resend_view), name="deliveries_delivery_resend"),
            path("<int:pk>/cancel/", self.admin_site.admin_view(self.cancel_view), name="deliveries_delivery_cancel"),
        ]
        return own + super().get_urls()

    def resend_view(self, request, pk):
        return self._state_change(request, pk, delivery_resend, "Queued to be sent again.", "Resent")

    def cancel_view(self, request, pk):
        return self._state_change(
            request, pk, delivery_cancel, "Cancelled; it stays on record and can be resent.", "Cancelled"
        )

    def _state_change(self, request, pk, service, done: str, verb: str):
        delivery = get_object_or_404(Delivery.objects.select_related("partner", "endpoint"), pk=pk)
        if not self.has_change_permission(request, delivery):
            raise PermissionDenied
        if not is_confirmed(request):
            return confirmation_response(self, request, _one_delivery_confirmation(delivery, verb))
        try:
            service(delivery=delivery)
            history_write(request, [delivery], f"{verb} from its page")
            self.message_user(request, f"Delivery {delivery.pk}: {done}")
        except DeliveryStateError as exc:
            self.message_user(request, f"Delivery {delivery.pk}: {exc}", messages.ERROR)
        return redirect("admin:deliveries_delivery_change", delivery.pk)

    def get_search_results(self, request, queryset, search_term):
        # An OR across a join would scan, and the admin's "=field" compares UPPER()
        # of both sides; a sub-select on the unique event_id and the primary key
        # are both single index look-ups. Failing those, event ids starting with the
        # term: a LIKE 'term%' served by event_id's pattern index, bounded like the
        # events list's player prefix.
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(event__in=Event.objects.filter(event_id=term).values("pk"))
        if term.isdigit():
            matches |= Q(pk=int(term))
        found = queryset.filter(matches)
        if found.exists():
            return found, False
        events = Event.objects.filter(event_id__startswith=term).order_by("event_id").values("pk")
        return queryset.filter(event__in=events[:PREFIX_MATCHES_MAX]), False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, delivery):
        label, title = delivery.get_status_display(), ""
        if delivery.status in Delivery.OPEN_STATUSES and delivery.held_until and delivery.held_until > timezone.now():
            label, title = f"{label} · on hold", f"On hold until {console_time(delivery.held_until)}"
        badge = format_html(
            '<span class="console-status console-status-{}" title="{}">{}</span>', delivery.status, title, label
        )
        if delivery.is_test:
            return format_html('{} <span class="console-test" title="A one-off test postback">test</span>', badge)
        return badge

    @admin.display(description="Partner · endpoint", ordering="partner__name")
    def recipient(self, delivery):
        return format_html('{}<br><span class="console-quiet">{}</span>', delivery.partner.name, delivery.endpoint.name)

    @admin.display(description="Event · type")
    def event_link(self, delivery):
        url = reverse("admin:events_event_change", args=[delivery.event_id])
        return format_html(
            '<a href="{}">{}</a><br><span class="console-quiet">{}</span>', url, delivery.event.event_id,
            delivery.event_type_id,
        )

    @admin.display(description="Tries", ordering="attempt_count")
    def attempts(self, delivery):
        return delivery.attempt_count

    @admin.display(description="Code", ordering="last_status_code")
    def code(self, delivery):
        return delivery.last_status_code

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, delivery):
        return _two_lines(delivery.next_attempt_at)

    @admin.display(description="Created", ordering="created_at")
    def created(self, delivery):
        return _two_lines(delivery.created_at)

    @admin.display(description="Last error")
    def last_error_short(self, delivery):
        error = delivery.last_error
        if len(error) <= LAST_ERROR_SHOWN:
            return error
        return format_html(
            '<span class="console-cut" title="{}">{}…</span>', error, error[:LAST_ERROR_SHOWN - 1].rstrip()
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def render_change_form(self, request, context, *args, **kwargs):
        # Every field is history; a delivery changes only through resend / cancel.
        context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, *args, **kwargs)


def _two_lines(moment) -> str:
    """The console's time, its date above its time and zone: two narrow lines instead of one wide one."""
    if moment is None:
        return "—"
    day, _, rest = console_time(moment).partition(" ")
    return format_html('<span class="console-day">{}</span> {}', day, rest)


SHARE_COLUMNS = ["Partner", "Endpoint", "Selected", "Already delivered", "Pending or retrying"]


def _share_rows(shares) -> list[tuple]:
    return [
        (share.partner, share.endpoint, f"{share.total:,}", f"{share.delivered:,}", f"{share.open:,}")
        for share in shares
    ]


def _partners(shares) -> str:
    names = sorted({share.partner for share in shares})
    return f"{len(names)} partner{pluralize(len(names))} ({', '.join(names)})"


def _resend_confirmation(shares, delivered: int) -> Confirmation:
    total = sum(share.total for share in shares)
    facts = [
        f"Resend {total:,} selected deliver{pluralize(total, 'y,ies')} of {_partners(shares)}: each goes out again "
        "with a fresh attempt budget (a held one keeps its hold period; one being sent right now is left alone).",
    ]
    choice = None
    if delivered:
        facts.append(f"{delivered:,} of them were already delivered: they are left out unless you tick the box below.")
        choice = (
            "include_delivered",
            f"Also resend the {delivered:,} already delivered",
            "The partner already has these: it may count the conversions twice and pay the affiliate twice.",
        )
    return Confirmation(
        title="Resend deliveries?", facts=facts, columns=SHARE_COLUMNS, rows=_share_rows(shares), choice=choice,
        submit="Yes, resend",
    )


def _cancel_confirmation(shares) -> Confirmation:
    total, open_ = sum(share.total for share in shares), sum(share.open for share in shares)
    facts = [
        f"Cancel {open_:,} pending or retrying deliver{pluralize(open_, 'y,ies')} of the {total:,} selected, of "
        f"{_partners(shares)}: the partner will not receive them. They stay on record and can be resent.",
    ]
    if open_ < total:
        facts.append(f"{total - open_:,} are delivered, failed or cancelled already and are left as they are.")
    return Confirmation(
        title="Cancel deliveries?", facts=facts, columns=SHARE_COLUMNS, rows=_share_rows(shares),
        submit="Yes, cancel them",
    )


def _one_delivery_confirmation(delivery: Delivery, verb: str) -> Confirmation:
    back = reverse("admin:deliveries_delivery_change", args=[delivery.pk])
    what = f"delivery {delivery.pk} ({delivery.event_type_id}) to {delivery.partner.name} · {delivery.endpoint.name}"
    if verb == "Cancelled":
        return Confirmation(
            title="Cancel this delivery?", back_url=back, submit="Yes, cancel it",
            facts=[f"Cancel {what}: the partner will not receive it. It stays on record and can be resent."],
        )
    facts = [f"Resend {what} with a fresh attempt budget."]
    if delivery.status == Delivery.Status.DELIVERED:
        facts.append(
            f"It was delivered at {console_time(delivery.delivered_at)}: the partner already has it and may count "
            "the conversion twice."
        )
    return Confirmation(title="Resend this delivery?", facts=facts, back_url=back, submit="Yes, resend it")
