"""Keyed digests that stand in for an erased player's values.

Keyed with a key derived from SECRET_KEY (``salted_hmac``): the same player
id always gives the same pseudonym, so a repeated erasure finds its earlier
work, while nobody without the key can test a guessed id against it. A plain
hash would not do: player ids are short and often sequential, and trying
every one of them against an unkeyed digest takes seconds.
"""

from django.utils.crypto import salted_hmac

ERASED_PREFIX = "erased-"
# 128 bits: no two erased players share a pseudonym, and ids stay short enough to read.
PSEUDONYM_HEX_DIGITS = 32
# How many times one player id may be erased and come back as a new player.
MAX_GENERATIONS = 100
_PLAYER_SALT = "events.pseudonyms.player"
_CONTENT_SALT = "events.pseudonyms.content"


def player_pseudonyms(player_id: str) -> list[str]:
    """The pseudonyms of ``player_id``'s successive erasures, oldest first.

    An event for an erased id starts a new player, which may be erased in
    turn: each generation gets its own pseudonym, so the two players' rows
    (and their first deposits) stay apart.
    """
    return [_pseudonym(player_id if n == 0 else f"{player_id}\x00{n}") for n in range(MAX_GENERATIONS)]


def _pseudonym(value: str) -> str:
    digest = salted_hmac(_PLAYER_SALT, value, algorithm="sha256").hexdigest()
    return ERASED_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]


def content_hash_erased(content_hash: str) -> str:
    """What an erased event keeps of its content digest: still comparable with a replay, no longer guessable.

    The digest covers the player id, click id and params; left as it was,
    guessing those (the rest of the event stays on the row) would confirm them.
    """
    return salted_hmac(_CONTENT_SALT, content_hash, algorithm="sha256").hexdigest()
