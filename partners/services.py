"""Writes for partners, postback endpoints and payout rules.

Pausing holds deliveries (they stay pending and are not sent); resuming
announces ``sending_resumed``, on which the sender wakes, so what piled up
goes out at once.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Partner, PayoutRule, PostbackEndpoint, QualificationRule
from .signals import sending_resumed


def partner_save(*, partner: Partner, fields: dict) -> Partner:
    """Create or update a partner; a change of ``is_active`` pauses or resumes it."""
    resumes = partner.pk is not None and not partner.is_active and fields.get("is_active") is True
    for name, value in fields.items():
        setattr(partner, name, value)
    with transaction.atomic():
        partner.save()
        if resumes:
            sending_resumed.send(sender=Partner, partner=partner)
    return partner


def endpoint_save(
    *, endpoint: PostbackEndpoint, fields: dict, event_types=None, rotation_grace: timedelta | None = None
) -> PostbackEndpoint:
    """Create or update an endpoint (fields already validated).

    A new ``signing_secret`` on an existing endpoint is a rotation: the old
    secret keeps signing beside it for ``rotation_grace`` (default
    ``POSTBACK_SECRET_ROTATION_GRACE_HOURS``). Setting ``is_active`` pauses or
    resumes through ``endpoint_pause`` / ``endpoint_resume``.
    """
    fields = dict(fields)
    is_active = fields.pop("is_active", None)
    new_secret = fields.pop("signing_secret", None)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    with transaction.atomic():
        if new_secret is not None and new_secret != endpoint.signing_secret:
            _rotate_secret(endpoint, new_secret, rotation_grace)
        endpoint.save()
        if event_types is not None:
            endpoint.event_types.set(event_types)
        if is_active is True and not endpoint.is_active:
            endpoint_resume(endpoint=endpoint)
        elif is_active is False and endpoint.is_active:
            endpoint_pause(endpoint=endpoint, reason="paused by a manager")
    return endpoint


def _rotate_secret(endpoint: PostbackEndpoint, new_secret: str, grace: timedelta | None) -> None:
    grace = timedelta(hours=settings.POSTBACK_SECRET_ROTATION_GRACE_HOURS) if grace is None else grace
    if endpoint.pk and endpoint.signing_secret and grace > timedelta(0):
        endpoint.previous_signing_secret = endpoint.signing_secret
        endpoint.previous_secret_expires_at = timezone.now() + grace
    else:
        endpoint.previous_signing_secret, endpoint.previous_secret_expires_at = "", None
    endpoint.signing_secret = new_secret


def endpoint_pause(*, endpoint: PostbackEndpoint, reason: str) -> PostbackEndpoint:
    """Hold the endpoint's deliveries (nothing is dropped) with the reason on record."""
    endpoint.is_active, endpoint.paused_at, endpoint.pause_reason = False, timezone.now(), reason[:500]
    endpoint.save(update_fields=["is_active", "paused_at", "pause_reason", "updated_at"])
    return endpoint


def endpoint_resume(*, endpoint: PostbackEndpoint) -> PostbackEndpoint:
    """Send again: held deliveries go out right after commit, the failure run starts from zero, the circuit closed."""
    endpoint.is_active, endpoint.paused_at, endpoint.pause_reason = True, None, ""
    endpoint.consecutive_failures = 0
    endpoint.circuit_opened_at, endpoint.circuit_next_probe_at, endpoint.circuit_probe_seconds = None, None, 0
    with transaction.atomic():
        endpoint.save(update_fields=[
            "is_active", "paused_at", "pause_reason", "consecutive_failures", "circuit_opened_at",
            "circuit_next_probe_at", "circuit_probe_seconds", "updated_at",
        ])
        sending_resumed.send(sender=PostbackEndpoint, endpoint=endpoint)
    return endpoint


def payout_rule_save(*, rule: PayoutRule, fields: dict) -> PayoutRule:
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()
    return rule


class RuleInUseError(Exception):
    """The rule has qualified players: deactivate it instead, so their record keeps its rule."""


def qualification_rule_save(*, rule: QualificationRule, fields: dict) -> QualificationRule:
    """Create or change a rule; players it qualified before stay qualified, and are never qualified again."""
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.full_clean()
    rule.save()
    return rule


def qualification_rule_delete(*, rule: QualificationRule) -> None:
    if rule.qualifications.exists():
        raise RuleInUseError(
            f"{rule.qualifications.count():,} players qualified by this rule; set is_active to false instead."
        )
    rule.delete()
