"""``Postback``: the one shape a delivery takes in the sender, from its claim to its recorded outcome.

The claim reads a delivery into a ``Postback`` by name; rendering reads its
event and endpoint from it; the transfer's result and the outcome the sender
judges are set on it; its rows are read off it by the names of the columns
they are written to (``rows_of``), and monitoring reads the same attributes for
its metrics and log lines. No Delivery or DeliveryAttempt instance is built on
the hot path: a claimed batch is plain attributes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from lib import http
from partners import signing
from partners.models import Partner, PostbackEndpoint

from .models import DeliveryAttempt
from .rendering import EventView


@dataclass(slots=True, eq=False)
class Postback:
    """One claimed delivery: what the claim read, its request, the attempt's result and the delivery's outcome.

    Attributes and properties carry the names of the Delivery and DeliveryAttempt columns they fill.
    """

    # What the claim read of the delivery.
    id: int
    endpoint: PostbackEndpoint
    event: EventView
    event_type_id: str
    attempt_count: int
    retry_base: int
    is_test: bool
    # The request as sent (with every credential) and as stored and shown (masked, with the webhook headers sent).
    request: http.OutboundRequest | None = None
    shown: http.OutboundRequest | None = None
    secrets: tuple[str, ...] = ()  # the values scrubbed from what the partner answers
    needs_token: bool = False  # its endpoint authenticates with OAuth2: the token is added as it starts
    fresh_token: bool = False  # its OAuth2 token was fetched for this attempt, not taken from the cache
    leased: bool = True  # still leased to this sender, as far as the last renewal knows
    result: http.HttpResult | None = None
    # The attempt.
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str = DeliveryAttempt.Outcome.IN_FLIGHT
    duration_ms: int | None = None
    status_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    error_class: str = ""
    # The delivery's outcome; a recorded outcome ends its lease.
    status: str = ""
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str = ""
    claimed_until: datetime | None = None
    claimed_by: str = ""

    @property
    def delivery_id(self) -> int:
        return self.id

    @property
    def number(self) -> int:
        """The attempt's number: the claim counts the attempt before it starts."""
        return self.attempt_count

    @property
    def endpoint_id(self) -> int:
        return self.endpoint.pk

    @property
    def partner(self) -> Partner:
        return self.endpoint.partner

    @property
    def is_probe(self) -> bool:
        """Sent while its endpoint's circuit is open: the one delivery that tests whether the partner is back.

        A manager's test postback never is: it is a one-off check that leaves the circuit to the real ones.
        """
        return not self.is_test and self.endpoint.circuit_opened_at is not None

    @property
    def request_method(self) -> str:
        return self.shown.method if self.shown else self.endpoint.method

    @property
    def request_url(self) -> str:
        return self.shown.url if self.shown else ""

    @property
    def request_body(self) -> str:
        return self.shown.body if self.shown else ""

    @property
    def request_headers(self) -> dict:
        return signing.headers_for_record(self.shown.headers) if self.shown else {}

    @property
    def last_status_code(self) -> int | None:
        return self.status_code

    @property
    def updated_at(self) -> datetime | None:
        return self.finished_at


def rows_of(postbacks: Sequence[Postback], names: Sequence[str]) -> list[tuple]:
    """The rows ``lib.rows`` writes for the columns ``names``: each postback's attributes of those names, in order."""
    read = attrgetter(*names)
    return [read(postback) for postback in postbacks]
