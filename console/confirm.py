"""Admin actions that change many rows, or reach a partner, ask first and leave a trace.

The confirmation page says how many rows, whose they are and what will
happen; its form repeats the selection (or "all matching", the changelist's
filters staying in the URL), so the action runs on what was shown. Anything
that could double-pay a partner is left out unless the manager ticks it in,
next to a warning. Each confirmed action is written to the admin history
(who, when, what, how many), which the objects' "History" pages show.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Model
from django.template.response import TemplateResponse

CONFIRMED = "confirmed"


@dataclass
class Confirmation:
    title: str
    facts: Sequence[str]
    columns: Sequence[str] = ()
    rows: Sequence[Sequence] = ()
    # An opt-in the action leaves out by default: (form field name, label, warning shown beside it).
    choice: tuple[str, str, str] | None = None
    submit: str = "Yes, go ahead"
    back_url: str = ""


def is_confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get(CONFIRMED) == "yes"


def chosen(request, name: str) -> bool:
    """Whether the manager ticked the confirmation's opt-in."""
    return request.POST.get(name) == "on"


def confirmation_response(modeladmin, request, confirmation: Confirmation, *, action: str = "") -> TemplateResponse:
    """The page asking to confirm ``action`` (an admin action's name; empty for a page of one object)."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": confirmation.title,
        "opts": modeladmin.model._meta,
        "confirmation": confirmation,
        "action": action,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if action else [],
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)


def history_write(request, objects: Iterable[Model], message: str) -> None:
    """One admin history entry per object, written in one insert."""
    objects = list(objects)
    if objects:
        LogEntry.objects.log_actions(
            user_id=request.user.pk, queryset=objects, action_flag=CHANGE, change_message=message
        )
