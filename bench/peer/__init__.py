"""The peer: django-webhook (PyPI, as shipped) in a minimal Django project, posting to the same sink.

Its webhooks fire on ``auth.Group`` saves, so the project needs no app of its
own; its tables live in the ``peer`` schema of the benchmark database.
"""

from .celery import app

__all__ = ["app"]
