"""Finding credentials written into endpoints' URLs and headers, and moving them into the endpoint's credentials.

An endpoint configured before credentials existed may carry a partner's token
in its URL (``?token=abc``) or in a header of the partner's own naming
(``X-Pass: abc``), where every reader of the endpoint or its deliveries sees
it. A query parameter or header counts as a candidate when its name looks like
a credential and its value is written literally (no macro).
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote

from . import templating
from .credentials import credentials_merged
from .models import PostbackEndpoint
from .services import endpoint_save
from .validation import endpoint_changes_errors

_CREDENTIAL_WORDS = ("token", "key", "secret", "pass", "pwd", "auth", "signature", "credential", "session", "cookie")
_CREDENTIAL_NAMES = {"sig", "hash", "apikey", "api_key"}


@dataclass(frozen=True)
class Candidate:
    where: str  # "query" or "header"
    name: str  # the query parameter's or header's name
    value: str  # the credential's value (a query value percent-decoded)
    credential: str  # the credential name it moves to

    @property
    def macro(self) -> str:
        return f"{{{templating.SECRET_PREFIX}{self.credential}}}"


def looks_like_credential(name: str) -> bool:
    lowered = name.lower()
    return lowered in _CREDENTIAL_NAMES or any(word in lowered for word in _CREDENTIAL_WORDS)


def credential_candidates(endpoint: PostbackEndpoint) -> list[Candidate]:
    """The endpoint's literal, credential-looking query parameters and headers, each with the name it would take."""
    found = [Candidate("query", name, unquote(value), "") for name, value in _query_pairs(endpoint.url_template)]
    found += [Candidate("header", name, value, "") for name, value in (endpoint.headers or {}).items()
              if isinstance(value, str) and value and not templating.MACRO_PATTERN.search(value)]
    taken = dict(endpoint.credentials or {})
    named = []
    for candidate in found:
        if looks_like_credential(candidate.name):
            credential = _free_name(candidate, taken)
            taken[credential] = candidate.value
            named.append(Candidate(candidate.where, candidate.name, candidate.value, credential))
    return named


def _query_pairs(url: str) -> list[tuple[str, str]]:
    query = url.split("#", 1)[0].partition("?")[2]
    pairs = [pair.partition("=") for pair in query.split("&") if pair]
    return [(name, value) for name, sign, value in pairs
            if sign and value and not templating.MACRO_PATTERN.search(value) and "{" not in name]


def _free_name(candidate: Candidate, taken: dict) -> str:
    base = re.sub(r"[^A-Za-z0-9_\-]", "_", candidate.name.lower())[:60] or "credential"
    name, number = base, 1
    while name in taken and taken[name] != candidate.value:
        number += 1
        name = f"{base}_{number}"
    return name


def endpoint_credentials_move(*, endpoint: PostbackEndpoint) -> tuple[list[Candidate], dict[str, str]]:
    """Move the candidates into credentials, templates rewritten to {secret.NAME}; (moved, errors) — none on errors."""
    candidates = credential_candidates(endpoint)
    if not candidates:
        return [], {}
    url, headers = endpoint.url_template, dict(endpoint.headers or {})
    for candidate in candidates:
        if candidate.where == "query":
            url = _query_value_replaced(url, candidate.name, candidate.macro)
        else:
            headers[candidate.name] = candidate.macro
    credentials = credentials_merged(endpoint.credentials, {c.credential: c.value for c in candidates})
    fields = {"url_template": url, "headers": headers, "credentials": credentials}
    if errors := endpoint_changes_errors(endpoint, fields):
        return [], errors
    endpoint_save(endpoint=endpoint, fields=fields)
    return candidates, {}


def _query_value_replaced(url: str, name: str, macro: str) -> str:
    before_fragment, hash_sign, fragment = url.partition("#")
    base, question, query = before_fragment.partition("?")
    pairs = [f"{name}={macro}" if pair.partition("=")[0] == name and not templating.MACRO_PATTERN.search(pair)
             else pair for pair in query.split("&")]
    return f"{base}{question}{'&'.join(pairs)}{hash_sign}{fragment}"
