"""Admin forms for partner configuration: the endpoint's write-only signing secret and credential headers,
and its held event types as boxes to tick."""

import json

from django import forms

from events.models import EventType
from partners.credentials import credentials_after
from partners.filters import FIELDS as FILTER_FIELDS
from partners.filters import OPERATOR_LABELS
from partners.models import PostbackEndpoint
from partners.signing import headers_for_record, headers_unmask, secret_generate
from partners.validation import hold_event_types_error, signing_secret_error

SECRET_FIELDS = ["signing_secret", "previous_signing_secret", "previous_secret_expires_at", "credentials"]


class EndpointAdminForm(forms.ModelForm):
    """The endpoint form; the signing secret can be set or rotated, never read back."""

    new_signing_secret = forms.CharField(
        required=False,
        strip=True,
        label="New signing secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current secret. A whsec_… value from the partner, or tick "
        "“Generate” below. It is never shown again.",
    )
    generate_signing_secret = forms.BooleanField(
        required=False,
        label="Generate a new signing secret",
        help_text="The platform makes a random secret and shows it once, after saving, to pass on to the partner.",
    )

    new_credentials = forms.CharField(
        required=False,
        label="Enter credentials",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text='JSON, name → value, e.g. {"token": "abc", "old": null}: set or (with null) remove; the rest are '
        "kept. Used in templates as {secret.NAME} and by the authentication. Never shown again.",
    )

    hold_event_types = forms.MultipleChoiceField(
        required=False,
        label="Held event types",
        widget=forms.CheckboxSelectMultiple,
        help_text="Postbacks of these types wait for the hold period; if the event is reversed meanwhile, "
        "they are cancelled instead of sent.",
    )

    write_only = ("new_signing_secret", "generate_signing_secret", "new_credentials")
    credentials_cleared = False

    class Meta:
        model = PostbackEndpoint
        exclude = SECRET_FIELDS
        labels = {"url_template": "URL template"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hold_event_types"].choices = list(EventType.objects.values_list("slug", "name"))
        if "auth_type" in self.fields:
            self.fields["auth_type"].required = False
        # Credential-looking header values are write-only, as in the API: shown masked, kept when sent back masked.
        if self.instance.headers:
            self.initial["headers"] = headers_for_record(self.instance.headers)
        if "filters" in self.fields:
            # What the editor's rows offer over the JSON box.
            self.fields["filters"].widget.attrs.update({
                "data-filter-fields": json.dumps([*FILTER_FIELDS, "params."]),
                "data-filter-ops": json.dumps(list(OPERATOR_LABELS.items()), ensure_ascii=False),
            })

    def clean_auth_type(self):
        # Left out of a form posted without it (an older page, a script): no authentication, as before.
        return self.cleaned_data.get("auth_type") or PostbackEndpoint.AuthType.NONE

    def clean_headers(self):
        return headers_unmask(self.cleaned_data.get("headers"), self.instance.headers or {})

    def clean_event_names(self):
        # An emptied box reads as null; it means no mapping.
        return self.cleaned_data.get("event_names") or {}

    def clean(self):
        cleaned = super().clean()
        typed, generate = cleaned.get("new_signing_secret"), cleaned.get("generate_signing_secret")
        if typed and generate:
            self.add_error("new_signing_secret", "Either type a secret or tick “Generate”, not both.")
        elif typed and (reason := signing_secret_error(typed)):
            self.add_error("new_signing_secret", reason)
        self._clean_credentials(cleaned)
        received = {event_type.slug for event_type in cleaned.get("event_types") or ()}
        if reason := hold_event_types_error(cleaned.get("hold_event_types"), received):
            self.add_error("hold_event_types", reason)
        return cleaned

    def _clean_credentials(self, cleaned: dict) -> None:
        """Put the credentials the endpoint keeps on the instance, for the model's checks and the save."""
        try:
            entered = json.loads(cleaned.get("new_credentials") or "{}")
        except ValueError as exc:
            self.add_error("new_credentials", f'Not valid JSON ({exc}); write an object such as {{"token": "abc"}}.')
            return
        if not isinstance(entered, dict):
            self.add_error("new_credentials", 'Write an object of name → value, such as {"token": "abc"}.')
            return
        watched = ("url_template", "oauth_token_url", "auth_type")
        changes = {name: cleaned[name] for name in watched if name in cleaned}
        self.instance.credentials, self.credentials_cleared = credentials_after(
            self.instance, {**changes, "credentials": entered}
        )

    def chosen_secret(self) -> tuple[str | None, bool]:
        """The secret to store (None keeps the current one), and whether the platform generated it."""
        if self.cleaned_data.get("generate_signing_secret"):
            return secret_generate(), True
        return self.cleaned_data.get("new_signing_secret") or None, False
