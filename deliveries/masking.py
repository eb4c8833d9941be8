"""Scrubbing secret values out of text a partner or a library wrote, before it is stored or shown.

Requests are masked by rendering them a second time with the mask in place of
each credential (``deliveries.rendering``); this is for what comes back: a
partner's answer or an error message that echoes a credential or token.
"""

from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from partners.templating import SECRET_MASK

# Shorter values are too likely to be ordinary text (an "id" or a "1"); they are not searched for.
MIN_SCRUBBED_CHARS = 4


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value, raw or percent-encoded, replaced by the mask."""
    if not text:
        return text
    for secret in secrets:
        if len(secret) < MIN_SCRUBBED_CHARS:
            continue
        for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret, safe=""))):
            text = text.replace(form, SECRET_MASK)
    return text
