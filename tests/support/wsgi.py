"""Calling the WSGI app directly (as schemathesis does) inside a test's database transaction."""

import contextlib

from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@contextlib.contextmanager
def transaction_kept_across_requests():
    """Django closes "old" connections around each request; past the test client that would
    close the connection holding the test's transaction, so keep it open for the block."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
