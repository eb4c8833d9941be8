"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` over
``{webhook-id}.{webhook-timestamp}.{payload}``, keyed with the base64 part of
the ``whsec_…`` secret. The payload is the request body, or for a GET the
query string as sent: rendering encodes the request once, in a form no HTTP
client re-encodes, so the signed text is the sent text. The signature is made
by the ``standardwebhooks`` package itself, the one partners verify with.
While a rotated-out secret is in its grace period, both signatures go out,
space-separated, so the partner can switch over at its own pace.
"""

import base64
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from .choices import Method

if TYPE_CHECKING:  # annotations only: the model module imports this one
    from .models import PostbackEndpoint


SECRET_PREFIX = "whsec_"
MASK = "********"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(*, secret: str, msg_id: str, timestamp: int, payload: str) -> str:
    return Webhook(secret).sign(msg_id=msg_id, timestamp=datetime.fromtimestamp(timestamp, UTC), data=payload)


def signing_payload(*, method: str, url: str, body: str) -> str:
    return urlsplit(url).query if method == Method.GET else body


def active_secrets(endpoint: "PostbackEndpoint", now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    found = [endpoint.signing_secret] if endpoint.signing_secret else []
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_signing_secret and expires and expires > now:
        found.append(endpoint.previous_signing_secret)
    return found


def webhook_headers(*, msg_id: str, timestamp: int, payload: str, secrets_in_use: list[str]) -> dict[str, str]:
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secrets_in_use:
        headers["webhook-signature"] = " ".join(
            signature(secret=secret, msg_id=msg_id, timestamp=timestamp, payload=payload) for secret in secrets_in_use
        )
    return headers


_CREDENTIAL_WORDS = ("auth", "token", "secret", "key", "password", "signature", "cookie", "session")


def headers_for_record(headers: dict[str, str]) -> dict[str, str]:
    """Request headers as stored on an attempt: signatures and anything credential-like masked."""
    return {
        name: MASK if any(word in name.lower() for word in _CREDENTIAL_WORDS) else value
        for name, value in headers.items()
    }


def headers_unmask(headers: dict, stored: dict) -> dict:
    """Headers as submitted back from a form or API read, with each masked value replaced by the stored one."""
    if not isinstance(headers, dict):
        return headers
    return {name: stored.get(name, value) if value == MASK else value for name, value in headers.items()}
