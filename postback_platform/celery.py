"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postback_platform.settings")

app = Celery("postback_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
