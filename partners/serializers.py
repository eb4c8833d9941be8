"""Configuration bodies for partners, postback endpoints and payout rules.

Endpoints are checked by ``partners.validation``, the same functions the
admin's model ``clean`` calls. Signing secrets are write-only: a response
says whether one is set, never what it is.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from events.currencies import minor_units
from events.models import EventType
from lib.api_errors import Conflict
from lib.json_types import JsonTypesMixin

from .credentials import CLEARED_NOTICE, credentials_after
from .models import Partner, PayoutRule, PostbackEndpoint, QualificationRule
from .signing import headers_for_record, headers_unmask
from .validation import endpoint_changes_errors, hold_event_types_error, signing_secret_error


class PartnerSerializer(JsonTypesMixin, serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["slug", "name", "scope", "is_active", "notes", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is checked once the body is otherwise valid (``validate``), to answer 409 rather than 400.
        extra_kwargs = {"slug": {"validators": []}}

    def validate(self, attrs: dict) -> dict:
        others = Partner.objects.exclude(pk=self.instance.pk) if self.instance else Partner.objects.all()
        if "slug" in attrs and others.filter(slug=attrs["slug"]).exists():
            reason = f"Partner {attrs['slug']!r} exists already; choose another slug, or change that partner at its own URL."
            raise Conflict(reason, {"slug": [reason]})
        return attrs


class EndpointSerializer(JsonTypesMixin, serializers.ModelSerializer):
    event_types = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=EventType.objects.all(),
        help_text="Event types this endpoint receives, e.g. [\"registration\", \"first_deposit\"].",
    )
    signing_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False,
        help_text="whsec_ followed by base64 (Standard Webhooks). Write-only; a new value rotates the secret.",
    )
    rotation_grace_hours = serializers.IntegerField(
        write_only=True, required=False, min_value=0, max_value=24 * 30,
        help_text="With a new signing_secret: hours the old one keeps signing too (default from settings).",
    )
    credentials = serializers.JSONField(
        write_only=True, required=False,
        help_text='Write-only: name → value, used in templates as {secret.NAME} and by auth_type; merged into '
        'those stored, null removes one: {"token": "abc", "old": null}. Cleared when the scheme, host or port '
        "of url_template or oauth_token_url changes, unless entered again in the same change.",
    )
    credential_names = serializers.SerializerMethodField(help_text="The names of the stored credentials.")
    notices = serializers.SerializerMethodField(
        help_text="What this write did beside the fields sent, e.g. that a change of host cleared the credentials."
    )
    has_signing_secret = serializers.SerializerMethodField()
    circuit_state = serializers.CharField(read_only=True)

    class Meta:
        model = PostbackEndpoint
        fields = [
            "id", "name", "url_template", "method", "body_format", "body_template", "headers", "event_types",
            "event_names", "filters", "signing_secret", "rotation_grace_hours", "has_signing_secret",
            "previous_secret_expires_at", "credentials", "credential_names", "auth_type", "oauth_token_url",
            "oauth_scope", "max_attempts", "timeout_seconds", "success_body_contains", "refused_body_contains",
            "rate_limit_per_second", "ordered_per_player", "hold_hours", "hold_event_types",
            "circuit_failure_threshold", "consecutive_failures", "circuit_state", "circuit_opened_at",
            "circuit_next_probe_at", "is_active", "paused_at", "pause_reason", "created_at", "updated_at", "notices",
        ]
        read_only_fields = [
            "id", "previous_secret_expires_at", "consecutive_failures", "circuit_opened_at", "circuit_next_probe_at",
            "paused_at", "pause_reason", "created_at", "updated_at",
        ]
        extra_kwargs = {
            "url_template": {"help_text": "http(s) URL; macros such as {click_id} or {params.sub1|default:none} "
                             "in its path and query, never its host."},
            "body_template": {"help_text": 'For POST: JSON with macros inside strings ({"v": "{amount|number}"}), '
                              "or a form body (a={click_id}&b={params.sub2|omit})."},
            "headers": {"help_text": "Extra request headers, name → value; values are printable ASCII and may use "
                        "macros, whose values are percent-encoded outside printable ASCII."},
        }

    credentials_cleared = False

    def get_has_signing_secret(self, endpoint: PostbackEndpoint) -> bool:
        return bool(endpoint.signing_secret)

    def get_credential_names(self, endpoint: PostbackEndpoint) -> list[str]:
        return sorted(endpoint.credentials or {})

    def get_notices(self, endpoint: PostbackEndpoint) -> list[str]:
        return [CLEARED_NOTICE] if self.credentials_cleared else []

    def to_representation(self, endpoint: PostbackEndpoint) -> dict:
        # Header values that look like credentials are write-only, like the signing secret.
        data = super().to_representation(endpoint)
        data["headers"] = headers_for_record(data.get("headers") or {})
        return data

    def validate_credentials(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError('An object of name → value, e.g. {"token": "abc"}; null removes one.')
        return value

    def validate_headers(self, value):
        """A masked value sent back (from a read of this endpoint) keeps the stored one."""
        return headers_unmask(value, self.instance.headers if self.instance else {})

    def validate_signing_secret(self, value: str) -> str:
        if reason := signing_secret_error(value):
            raise serializers.ValidationError(reason)
        return value

    def validate_event_types(self, value):
        if not value:
            raise serializers.ValidationError("Choose at least one event type, e.g. [\"registration\"].")
        return value

    def validate(self, attrs: dict) -> dict:
        endpoint = self.instance or PostbackEndpoint()
        attrs["credentials"], self.credentials_cleared = credentials_after(endpoint, attrs)
        errors = endpoint_changes_errors(endpoint, attrs)
        if errors and self.credentials_cleared:
            errors["credentials"] = f"{CLEARED_NOTICE} {errors.get('credentials', '')}".strip()
        if reason := hold_event_types_error(self._hold_event_types(attrs), self._event_type_slugs(attrs)):
            errors["hold_event_types"] = reason
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _hold_event_types(self, attrs: dict) -> list:
        return attrs.get("hold_event_types", self.instance.hold_event_types if self.instance else [])

    def _event_type_slugs(self, attrs: dict) -> set[str]:
        if "event_types" in attrs:
            return {event_type.slug for event_type in attrs["event_types"]}
        return set(self.instance.event_types.values_list("slug", flat=True)) if self.instance else set()

    def save_kwargs(self) -> dict:
        """What ``partners.services.endpoint_save`` takes, from the validated body."""
        fields = dict(self.validated_data)
        grace_hours = fields.pop("rotation_grace_hours", None)
        event_types = fields.pop("event_types", None)
        return {
            "fields": fields,
            "event_types": event_types,
            "rotation_grace": None if grace_hours is None else timedelta(hours=grace_hours),
        }


class PreviewSerializer(JsonTypesMixin, serializers.Serializer):
    """What to preview: a stored event (by its numeric id) or a sample, optionally with unsaved template changes."""

    event = serializers.IntegerField(required=False, help_text="Id of a stored event; a sample event when left out.")
    url_template = serializers.CharField(required=False)
    method = serializers.ChoiceField(choices=PostbackEndpoint.Method.choices, required=False)
    body_format = serializers.ChoiceField(choices=PostbackEndpoint.BodyFormat.choices, required=False)
    body_template = serializers.CharField(required=False, allow_blank=True)
    headers = serializers.JSONField(required=False)
    event_names = serializers.JSONField(required=False)

    def validate(self, attrs: dict) -> dict:
        # filters are not previewed: the endpoint's own stay in place.
        if errors := endpoint_changes_errors(self.context["endpoint"], attrs):
            raise serializers.ValidationError(errors)
        return attrs


class RenderedRequestSerializer(serializers.Serializer):
    method = serializers.CharField()
    url = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    body = serializers.CharField()


class TestPostbackSerializer(serializers.Serializer):
    event_type = serializers.SlugRelatedField(
        slug_field="slug", queryset=EventType.objects.all(), required=False,
        help_text="The event type to test with; the endpoint's first one when left out.",
    )


class PayoutRuleSerializer(JsonTypesMixin, serializers.ModelSerializer):
    event_type = serializers.SlugRelatedField(slug_field="slug", queryset=EventType.objects.all())

    class Meta:
        model = PayoutRule
        fields = ["id", "event_type", "kind", "value", "currency"]
        read_only_fields = ["id"]

    def validate_currency(self, value: str) -> str:
        if minor_units(value.upper()) is None:
            raise serializers.ValidationError(f"{value!r} is not an ISO 4217 currency code; use one such as EUR.")
        return value.upper()

    def validate(self, attrs: dict) -> dict:
        partner = self.context["partner"]
        event_type = attrs.get("event_type", getattr(self.instance, "event_type", None))
        duplicate = PayoutRule.objects.filter(partner=partner, event_type=event_type)
        if self.instance is not None:
            duplicate = duplicate.exclude(pk=self.instance.pk)
        if duplicate.exists():
            reason = f"{partner.slug} already has a payout rule for {event_type}; change that one instead."
            raise Conflict(reason, {"event_type": [reason]})
        return attrs


class QualificationRuleSerializer(JsonTypesMixin, serializers.ModelSerializer):
    """A partner's qualification rule; every condition set must hold within the window."""

    class Meta:
        model = QualificationRule
        fields = [
            "id", "name", "is_active", "window_start", "window_days", "currency", "min_first_deposit",
            "min_deposit_count", "min_deposit_sum", "wager_param", "min_wager_sum", "allowed_countries",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate_currency(self, value: str) -> str:
        if value and minor_units(value.upper()) is None:
            raise serializers.ValidationError(f"{value!r} is not an ISO 4217 currency code; use one such as EUR.")
        return value.upper()

    def validate(self, attrs: dict) -> dict:
        rule = QualificationRule(partner=self.context["partner"])
        for name in self.Meta.fields:
            if name in attrs:
                setattr(rule, name, attrs[name])
            elif self.instance is not None and hasattr(self.instance, name):
                setattr(rule, name, getattr(self.instance, name))
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_field_errors(exc)) from exc
        return attrs


def _field_errors(exc: DjangoValidationError) -> dict:
    return {("non_field_errors" if name == "__all__" else name): messages
            for name, messages in exc.message_dict.items()}
