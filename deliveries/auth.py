"""The endpoint's authentication as an Authorization header, real for the partner or masked for everyone else."""

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from partners.models import PostbackEndpoint
from partners.templating import SECRET_MASK

AuthType = PostbackEndpoint.AuthType


@dataclass(frozen=True)
class Secrets:
    """What only the partner receives: the endpoint's credentials and, for OAuth2, the access token."""

    credentials: Mapping[str, str] = field(default_factory=dict)
    access_token: str = ""

    def values(self) -> tuple[str, ...]:
        """Every secret value, longest first, to scrub from what a partner answers.

        Besides each credential and the access token: the Basic pair as its header carries it (base64 of
        ``username:password``, with and without padding, and URL-safe), which a partner may echo back.
        """
        found = {*self.credentials.values(), self.access_token}
        if "username" in self.credentials or "password" in self.credentials:
            pair = _basic_pair(self.credentials).encode()
            for encoded in (base64.b64encode(pair), base64.urlsafe_b64encode(pair)):
                found |= {encoded.decode("ascii"), encoded.decode("ascii").rstrip("=")}
        return tuple(sorted(found - {""}, key=len, reverse=True))


def authorization(endpoint: PostbackEndpoint, secrets: Secrets | None) -> dict[str, str]:
    """The Authorization header the endpoint's authentication adds; its secret part masked when ``secrets`` is None."""
    scheme = _SCHEMES.get(endpoint.auth_type)
    if scheme is None:
        return {}
    return {"Authorization": f"{scheme} {SECRET_MASK if secrets is None else _credential(endpoint, secrets)}"}


_SCHEMES = {
    AuthType.BASIC: "Basic",
    AuthType.BEARER: "Bearer",
    AuthType.OAUTH2_CLIENT: "Bearer",
    AuthType.OAUTH2_PASSWORD: "Bearer",
}


def _credential(endpoint: PostbackEndpoint, secrets: Secrets) -> str:
    credentials = secrets.credentials
    if endpoint.auth_type == AuthType.BASIC:
        return base64.b64encode(_basic_pair(credentials).encode()).decode("ascii")
    if endpoint.auth_type == AuthType.BEARER:
        return credentials.get("token", "")
    return secrets.access_token


def _basic_pair(credentials: Mapping[str, str]) -> str:
    return f"{credentials.get('username', '')}:{credentials.get('password', '')}"
