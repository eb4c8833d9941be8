"""Shared-cache keys that every API request reads, fetched in the one round trip its authentication makes.

An ingest request needs, besides its key and the client's failure count,
the routing configuration's version token. Reading it on its own would cost
a second Redis round trip per request; instead the owner of such a key
registers it here, the API authentication reads it in the same round trip
(``accounts.authentication``) and keeps the value for the rest of the
request, where ``prefetched`` hands it to the owner.

Values are kept per thread (a context variable) and only for the request
that read them: Django's request_started and request_finished signals
drop them, so code outside a request (a worker, a shell) always reads
the cache itself.
"""

from contextvars import ContextVar

from django.core.signals import request_finished, request_started

NOT_READ = object()

_keys: list[str] = []
_values: ContextVar[dict[str, object] | None] = ContextVar("shared_reads", default=None)


def shared_read_register(key: str) -> None:
    """Have every API request read ``key`` in its authentication's round trip."""
    if key not in _keys:
        _keys.append(key)


def shared_read_keys() -> list[str]:
    return list(_keys)


def shared_reads_keep(values: dict[str, object]) -> None:
    """Keep what this request read (None for a key the cache does not hold) until the request ends."""
    _values.set({key: values.get(key) for key in _keys})


def prefetched(key: str):
    """The value this request read for ``key``, or ``NOT_READ`` when none was read (then read it yourself)."""
    values = _values.get()
    if values is None:
        return NOT_READ
    return values.get(key, NOT_READ)


def shared_reads_forget(**kwargs) -> None:
    _values.set(None)


request_started.connect(shared_reads_forget, dispatch_uid="lib.shared_reads.started")
request_finished.connect(shared_reads_forget, dispatch_uid="lib.shared_reads.finished")
