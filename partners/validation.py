"""Checks an endpoint's configuration must pass before it is saved.

The model's ``clean`` (admin) and the API serializer call the same
functions, so both refuse the same things with the same reasons.
"""

import base64
import ipaddress
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from django.conf import settings

from lib import address_guard
from lib.http import literal_address

from . import json_templates, templating
from .choices import AuthType, BodyFormat, Method
from .credentials import auth_errors, credentials_error, unknown_secrets_errors
from .filters import FilterError, validate_filters
from .signing import SECRET_PREFIX

if TYPE_CHECKING:  # annotations only: the model module imports this one
    from .models import PostbackEndpoint

MAX_HEADERS = 20
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Set by the sender itself; an endpoint overriding them would break signing or framing.
# Accept-Encoding too: the sender does not decompress, so a compressed answer could never
# match an expected body and every postback would be retried.
RESERVED_HEADERS = {
    "host", "content-length", "transfer-encoding", "connection", "user-agent", "accept-encoding",
    "webhook-id", "webhook-timestamp", "webhook-signature",
}
MAX_EVENT_NAMES = 50
_EVENT_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_EVENT_NAME_MAX = 200

CONFIG_FIELDS = (
    "url_template", "method", "body_format", "body_template", "headers", "filters", "event_names",
    "credentials", "auth_type", "oauth_token_url",
)


def endpoint_changes_errors(endpoint: "PostbackEndpoint", changes: dict) -> dict[str, str]:
    """``endpoint_config_errors`` for the endpoint's configuration with ``changes`` applied over it."""
    return endpoint_config_errors(**{name: changes.get(name, getattr(endpoint, name)) for name in CONFIG_FIELDS})


def endpoint_config_errors(
    *, url_template: str, method: str, body_format: str, body_template: str, headers, filters, event_names=None,
    credentials=None, auth_type: str = AuthType.NONE, oauth_token_url: str = "",
) -> dict[str, str]:
    """Field name → reason, for every part of an endpoint's configuration that cannot be saved."""
    credentials = {} if credentials is None else credentials
    checks = {
        "url_template": lambda: url_template_error(url_template),
        "body_template": lambda: body_template_error(body_template, method=method, body_format=body_format),
        "headers": lambda: headers_error(headers),
        "filters": lambda: filters_error(filters),
        "event_names": lambda: event_names_error(event_names),
        "credentials": lambda: credentials_error(credentials),
        "oauth_token_url": lambda: token_url_error(oauth_token_url),
    }
    errors = {name: reason for name, check in checks.items() if (reason := check())}
    if "credentials" in errors:
        return errors
    templates = {"url_template": url_template, "body_template": body_template, "headers": headers}
    later = unknown_secrets_errors(templates=templates, credentials=credentials) | auth_errors(
        auth_type=auth_type, credentials=credentials, oauth_token_url=oauth_token_url, headers=headers
    )
    return {name: reason for name, reason in later.items() if name not in errors} | errors


def token_url_error(url: str) -> str | None:
    """An OAuth2 token URL: a plain https URL (no macros) that the address guard admits.

    The client secret (and for the password grant, the password) is posted to it, so plain http is
    accepted only for a host inside POSTBACK_ALLOWED_NETWORKS: a development or test stub.
    """
    if not url:
        return None
    if "{" in url or "}" in url:
        return "The token URL is a plain URL; macros are not used in it."
    if reason := url_template_error(url):
        return reason
    parts = urlsplit(url)
    if parts.scheme != "https" and not _in_allowed_networks(parts.hostname or ""):
        return (
            "The token URL must start with https://: the credentials are posted to it. Plain http:// is "
            "accepted only for a host inside POSTBACK_ALLOWED_NETWORKS (a local test stub)."
        )
    return None


def _in_allowed_networks(hostname: str) -> bool:
    """Whether the host is an address (or localhost) inside an operator-admitted network; a name never is."""
    host = _host_as_sent(hostname)
    address = None if host is None else _address_of(host)
    return address is not None and any(address in network for network in settings.POSTBACK_ALLOWED_NETWORKS)


def url_template_error(template: str) -> str | None:
    if not template or not template.strip():
        return "Enter the partner's postback URL, e.g. https://partner.example/pb?click={click_id}."
    if reason := _template_error(templating.url_template, template):
        return reason
    written = templating.MACRO_PATTERN.sub("x", template)
    if any(char.isspace() for char in written):
        return "The URL contains spaces or line breaks; remove them (a macro's value is encoded when sent)."
    parts = urlsplit(written)
    if parts.scheme not in ("http", "https"):
        return f"The URL must start with http:// or https://, not {parts.scheme or 'nothing'}."
    if "{" in urlsplit(template).netloc:
        return "Macros may be used in the path and query only, not in the host name."
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "The URL's port is not a number between 0 and 65535."
    if not parts.hostname:
        return "The URL has no host name."
    if parts.username is not None or parts.password is not None:
        return "Credentials in the URL are not allowed; send them in a header instead."
    host = _host_as_sent(parts.hostname)
    if host is None:
        return f"The host name {parts.hostname!r} is not a valid host name."
    address = _address_of(host)
    if address is None:
        return None  # a name: judged when a postback is sent, on the address it resolves to then
    if reason := address_guard.refusal(address, allowed_networks=settings.POSTBACK_ALLOWED_NETWORKS):
        return f"Postbacks may not go to this address: {reason}. POSTBACK_ALLOWED_NETWORKS can admit it."
    return None


_LOOPBACK = ipaddress.ip_address("127.0.0.1")


def _address_of(host: str):
    """The address a host (as sent) stands for: its literal, or loopback for localhost; None for a name."""
    return _LOOPBACK if _is_localhost(host) else literal_address(host)


def _host_as_sent(hostname: str) -> str | None:
    """The host as the HTTP client will send it: percent-decoded and IDNA-encoded (which maps ①②⑦ to 127)."""
    host = unquote(hostname)
    if literal_address(host) is not None:
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _is_localhost(host: str) -> bool:
    # RFC 6761: localhost and every name under it mean this machine, whatever DNS says.
    name = host.lower().removesuffix(".")
    return name == "localhost" or name.endswith(".localhost")


def body_template_error(template: str, *, method: str, body_format: str) -> str | None:
    if not template:
        return None
    if method != Method.POST:
        return "GET requests have no body: choose POST, or leave the body template empty."
    if body_format == BodyFormat.JSON:
        return _template_error(json_templates.check_json, template, where="The JSON body: ")
    return _template_error(templating.form_template, template, where="The form body: ")


def headers_error(headers) -> str | None:
    if headers in (None, ""):
        return None
    if not isinstance(headers, dict):
        return 'Headers must be an object of name → value, e.g. {"X-Token": "abc"}.'
    if len(headers) > MAX_HEADERS:
        return f"At most {MAX_HEADERS} extra headers."
    for name, value in headers.items():
        if reason := _header_error(name, value):
            return reason
    return None


def _header_error(name, value) -> str | None:
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        return f"Header name {name!r} is not a valid HTTP header name."
    if name.lower() in RESERVED_HEADERS:
        return f"Header {name!r} is set by the platform and cannot be overridden."
    if not isinstance(value, str):
        return f"Header {name!r}: the value must be text."
    return _template_error(templating.header_template, value, where=f"Header {name!r}: ")


def filters_error(filters) -> str | None:
    try:
        validate_filters(filters)
    except FilterError as exc:
        return str(exc)
    return None


def signing_secret_error(secret: str) -> str | None:
    """Secrets follow Standard Webhooks: ``whsec_`` and base64 of 24 to 64 random bytes."""
    if not secret:
        return None
    if not secret.startswith(SECRET_PREFIX):
        return "A signing secret starts with whsec_ followed by base64, e.g. one generated by the platform."
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except ValueError:
        return "The part after whsec_ is not valid base64."
    if not 24 <= len(key) <= 64:
        return "The secret must decode to 24–64 bytes."
    return None


def event_names_error(event_names) -> str | None:
    """The partner's name for each event type: ``{"registration": "lead", "first_deposit": "sale"}``.

    An empty name is allowed: with ``{event_name|omit}`` it leaves the parameter out for that type.
    """
    if event_names in (None, ""):
        return None
    if not isinstance(event_names, dict):
        return 'Event names must be an object of event type → the partner\'s name, e.g. {"registration": "lead"}.'
    if len(event_names) > MAX_EVENT_NAMES:
        return f"At most {MAX_EVENT_NAMES} event names."
    for event_type, name in event_names.items():
        if not _EVENT_SLUG.match(event_type):
            return f"{event_type!r} is not an event type; use slugs such as registration or first_deposit."
        if not isinstance(name, str) or len(name) > _EVENT_NAME_MAX:
            return f"The name for {event_type!r} must be text of at most {_EVENT_NAME_MAX} characters."
        if not name.isprintable():
            return f"The name for {event_type!r} may not contain line breaks or control characters."
    return None


def hold_event_types_error(hold_event_types, received) -> str | None:
    """The event types an endpoint holds for its hold period: a list of types it receives (``received``)."""
    if hold_event_types in (None, ""):
        return None
    if not isinstance(hold_event_types, list) or not all(isinstance(slug, str) for slug in hold_event_types):
        return 'Held event types must be a list of event types, e.g. ["first_deposit", "qualified"].'
    if unknown := sorted(set(hold_event_types) - set(received)):
        return (f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among the event types this "
                f"endpoint receives ({', '.join(sorted(received)) or 'none yet'}); hold only those it receives.")
    return None


def _template_error(check, template: str, where: str = "") -> str | None:
    try:
        check(template)
    except templating.TemplateError as exc:
        return f"{where}{exc}"
    return None
