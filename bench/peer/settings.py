"""Settings of the peer project: django-webhook's documented set-up, on the run's PostgreSQL and Redis."""

import environ

env = environ.Env()

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_webhook"]
DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL"))}
DATABASES["default"]["OPTIONS"] = {"options": "-c search_path=peer"}
DATABASES["default"]["CONN_MAX_AGE"] = 600
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_TASK_IGNORE_RESULT = True
DJANGO_WEBHOOK = {"MODELS": ["auth.Group"]}
LOGGING = {"version": 1, "root": {"level": env.str("LOG_LEVEL", default="WARNING")}}
