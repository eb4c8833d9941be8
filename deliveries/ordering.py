"""Which deliveries must reach an endpoint one after another: those of one player.

A delivery carries its player's ordering key, a keyed 64-bit digest of the
player id: equal for one player's deliveries, meaningless to anyone without
SECRET_KEY, and cheap to index. Two players that happen to share a key are
only ordered between themselves, which costs nothing but a little
parallelism. The sender's claim (``deliveries.sender``) takes a delivery of
an ordered endpoint only when no earlier open delivery of the same key is
waiting for that endpoint.
"""

from django.utils.crypto import salted_hmac

_SALT = "deliveries.ordering.player"


def player_order_key(player_id: str | None) -> int | None:
    """The player's ordering key: a signed 64-bit integer, as PostgreSQL's bigint holds it."""
    if player_id is None:
        return None
    return int.from_bytes(salted_hmac(_SALT, player_id, algorithm="sha256").digest()[:8], "big", signed=True)
