"""Checks an endpoint's configuration must pass before it is saved.

The model's ``clean`` (admin) and the API serializer call the same
functions, so both refuse the same things with the same reasons.
"""

import base64
import ipaddress
import re
from urllib.parse import unquote, urlsplit

from django.conf import settings

from deliveries import address_guard, templating
from deliveries.http import literal_address
from deliveries.signing import SECRET_PREFIX

from .filters import FilterError, validate_filters
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
_MACRO_LIST = ", ".join(f"{{{name}}}" for name in templating.MACROS) + ", {params.NAME}"


CONFIG_FIELDS = ("url_template", "method", "body_format", "body_template", "headers", "filters")


def endpoint_changes_errors(endpoint: PostbackEndpoint, changes: dict) -> dict[str, str]:
    """``endpoint_config_errors`` for the endpoint's configuration with ``changes`` applied over it."""
    return endpoint_config_errors(**{name: changes.get(name, getattr(endpoint, name)) for name in CONFIG_FIELDS})


def endpoint_config_errors(
    *, url_template: str, method: str, body_format: str, body_template: str, headers, filters
) -> dict[str, str]:
    """Field name → reason, for every part of an endpoint's configuration that cannot be saved."""
    checks = {
        "url_template": lambda: url_template_error(url_template),
        "body_template": lambda: body_template_error(body_template, method=method, body_format=body_format),
        "headers": lambda: headers_error(headers),
        "filters": lambda: filters_error(filters),
    }
    return {name: reason for name, check in checks.items() if (reason := check())}


def url_template_error(template: str) -> str | None:
    if not template or not template.strip():
        return "Enter the partner's postback URL, e.g. https://partner.example/pb?click={click_id}."
    if template != template.strip() or any(char.isspace() for char in template):
        return "The URL contains spaces or line breaks; remove them (a macro's value is encoded when sent)."
    if reason := _macro_error(template):
        return reason
    parts = urlsplit(templating.MACRO_PATTERN.sub("x", template))
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
    address = _LOOPBACK if _is_localhost(host) else literal_address(host)
    if address is None:
        return None  # a name: judged when a postback is sent, on the address it resolves to then
    if reason := address_guard.refusal(address, allowed_networks=settings.POSTBACK_ALLOWED_NETWORKS):
        return f"Postbacks may not go to this address: {reason}. POSTBACK_ALLOWED_NETWORKS can admit it."
    return None


_LOOPBACK = ipaddress.ip_address("127.0.0.1")


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
    if method != PostbackEndpoint.Method.POST:
        return "GET requests have no body: choose POST, or leave the body template empty."
    # A JSON body has braces of its own; parsing it checks them.
    is_json = body_format == PostbackEndpoint.BodyFormat.JSON
    if reason := _macro_error(template, braces_allowed=is_json):
        return reason
    if is_json:
        try:
            templating.parse_json_template(template)
        except templating.TemplateError as exc:
            return f"The JSON body is {exc}"
    return None


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
    if any(char in value for char in "\r\n\x00"):
        return f"Header {name!r}: the value may not contain line breaks."
    return _macro_error(value, where=f"Header {name!r}: ")


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


def _macro_error(template: str, where: str = "", *, braces_allowed: bool = False) -> str | None:
    unknown = templating.unknown_macros(template)
    if unknown:
        return f"{where}Unknown macro {{{unknown[0]}}}; use one of {_MACRO_LIST}."
    leftover = templating.MACRO_PATTERN.sub("", template)
    if not braces_allowed and ("{" in leftover or "}" in leftover):
        return f"{where}A brace is not part of a macro; write macros as {{name}}, e.g. {{click_id}}."
    return None
