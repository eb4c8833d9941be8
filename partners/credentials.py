"""An endpoint's credentials: named secret values that only the partner receives.

Templates use them as ``{secret.NAME}``; the endpoint's authentication reads
fixed names among them. A change to where requests go (the scheme, host or
port of the URL or of the OAuth2 token URL), or to how they are used (the
authentication type), clears them, unless the same change enters them again:
whoever may edit an endpoint must not be able to send its hidden credentials
to a server of their own (for instance by pointing the token URL at one while
no credentials exist, then switching Basic credentials added later to an
OAuth2 grant, which posts the password to the token URL).
"""

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import templating
from .choices import AuthType

if TYPE_CHECKING:  # annotations only: the model module imports this one
    from .models import PostbackEndpoint


# Credential names each authentication reads: (required, optional).
AUTH_CREDENTIALS = {
    AuthType.NONE: ((), ()),
    AuthType.BASIC: (("username", "password"), ()),
    AuthType.BEARER: (("token",), ()),
    AuthType.OAUTH2_CLIENT: (("client_id", "client_secret"), ()),
    AuthType.OAUTH2_PASSWORD: (("client_id", "username", "password"), ("client_secret",)),
}
OAUTH2_TYPES = (AuthType.OAUTH2_CLIENT, AuthType.OAUTH2_PASSWORD)
MAX_CREDENTIALS = 20
MAX_VALUE_CHARS = 2000
CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
CLEARED_NOTICE = (
    "The endpoint's scheme, host or port, or its authentication type, changed, so its credentials were "
    "cleared; enter them again in the same change to keep them."
)


def credentials_merged(stored: dict, entered: dict | None) -> dict:
    """``entered`` over ``stored``: a name with a value sets it, a name with null removes it."""
    merged = dict(stored or {})
    for name, value in (entered or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def destination(url: str) -> tuple[str, str, int | None] | None:
    """Where a URL (template) sends: scheme, lower-case host and port; None when it cannot be read."""
    try:
        parts = urlsplit(templating.MACRO_PATTERN.sub("x", url or ""))
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    return parts.scheme.lower(), (parts.hostname or "").lower().removesuffix("."), port


def credentials_after(endpoint: "PostbackEndpoint", changes: dict) -> tuple[dict, bool]:
    """The credentials ``endpoint`` keeps with ``changes`` applied, and whether a change cleared them.

    A change of destination (``url_template``, ``oauth_token_url``) or of ``auth_type`` clears them.
    ``changes["credentials"]`` holds only what was entered in this change (see ``credentials_merged``).
    """
    entered = changes.get("credentials")
    moved = endpoint.pk is not None and bool(endpoint.credentials) and (
        any(
            name in changes and destination(changes[name]) != destination(getattr(endpoint, name))
            for name in ("url_template", "oauth_token_url")
        )
        or ("auth_type" in changes and changes["auth_type"] != endpoint.auth_type)
    )
    kept = {} if moved else endpoint.credentials
    return credentials_merged(kept, entered), moved


def credentials_error(credentials) -> str | None:
    if not isinstance(credentials, dict):
        return 'Credentials must be an object of name → value, e.g. {"token": "abc"}.'
    if len(credentials) > MAX_CREDENTIALS:
        return f"At most {MAX_CREDENTIALS} credentials."
    for name, value in credentials.items():
        if not CREDENTIAL_NAME.match(name):
            return f"Credential name {name!r}: use 1–64 letters, digits, _ or -."
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE_CHARS:
            return f"Credential {name!r}: the value must be text of 1–{MAX_VALUE_CHARS} characters (null removes it)."
        if not value.isprintable():
            return f"Credential {name!r}: the value may not contain line breaks or control characters."
    return None


def auth_errors(*, auth_type: str, credentials: dict, oauth_token_url: str, headers) -> dict[str, str]:
    """Field → reason for an authentication that is incomplete or clashes with the endpoint's own headers."""
    errors = {}
    required, _ = AUTH_CREDENTIALS.get(auth_type, ((), ()))
    if missing := [name for name in required if name not in (credentials or {})]:
        errors["credentials"] = (
            f"{AuthType(auth_type).label} needs the credential(s) {', '.join(missing)}; enter them under credentials."
        )
    if auth_type in OAUTH2_TYPES and not oauth_token_url:
        errors["oauth_token_url"] = "OAuth2 needs the partner's token URL, e.g. https://partner.example/oauth/token."
    if auth_type != AuthType.NONE and any(name.lower() == "authorization" for name in (headers or {})):
        errors["headers"] = "The Authorization header is set by the endpoint's authentication; remove it here."
    return errors


def unknown_secrets_errors(*, templates: dict[str, object], credentials: dict) -> dict[str, str]:
    """Field → reason for each template that uses a {secret.NAME} the endpoint has no credential for."""
    errors = {}
    for field, template in templates.items():
        texts = template.values() if isinstance(template, dict) else [template]
        used = set().union(*(templating.secret_names(text) for text in texts if isinstance(text, str)))
        if unknown := sorted(used - set(credentials or {})):
            names = ", ".join(f"{{secret.{name}}}" for name in unknown)
            known = ", ".join(sorted(credentials or {})) or "none"
            errors[field] = f"Unknown secret {names}: this endpoint has no such credential (it has: {known})."
    return errors

