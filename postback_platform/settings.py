"""Settings, read from the environment and an optional ``.env`` file.

Every variable is documented in ``.env.example``. With nothing set the project
runs on SQLite and Celery's filesystem transport, so a fresh clone needs no
server; ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to the production
stack. A value that cannot be right stops start-up with the variable's name.
"""

import ipaddress
import math
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# overwrite=False: a variable set in the environment wins over the same one in .env.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The writable state folder: the SQLite database, the filesystem broker, beat's schedule.
VAR_DIR = Path(env.str("STATE_DIR", default="") or BASE_DIR / "var")
try:
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"STATE_DIR {str(VAR_DIR)!r} cannot be created: {exc.strerror}.") from exc

# Values that ship in docs and examples; a server using one is not secret.
_PUBLIC_SECRET_KEYS = {"", "change-me", "django-insecure-change-me"}

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if SECRET_KEY in _PUBLIC_SECRET_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is missing or set to a published example value. Set SECRET_KEY to a long "
            "random string (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development."
        )
    SECRET_KEY = "django-insecure-development-only"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "partners",
    "events",
    "deliveries",
    "reporting",
    "monitoring",
    "ingest",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "lib.db_unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "postback_platform.urls"
WSGI_APPLICATION = "postback_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reporting.context_processors.exports_ready",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASES = {
    "default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the Celery worker write to the same file: WAL lets
    # readers run beside a writer, IMMEDIATE transactions take the write lock
    # up front (no deadlock on lock upgrade), and the timeout makes a writer
    # wait its turn instead of failing with "database is locked".
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    # A check before each request's first query is one more round trip on
    # every request. Without it, a connection the server dropped fails one
    # request with a 503 (DatabaseUnavailableMiddleware; clients resend) and
    # is closed at that request's end, so the next one connects afresh.
    _db["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username/IP pair is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Admin login brute force: after this many failures for a username from one
# address, that pair is locked out for the cool-off time.
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False
# The client's address behind the trusted proxies (TRUSTED_PROXY_COUNT), as the API's throttles see it.
AXES_CLIENT_IP_CALLABLE = "lib.client_address.client_address"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
# Statistics cut days in this zone, and the admin shows every time in it (stored times are UTC).
REPORTING_TIME_ZONE = env.str("REPORTING_TIME_ZONE", default="UTC")
TIME_ZONE = REPORTING_TIME_ZONE
# One way to write a time on every admin list, page and the dashboard: with seconds and the zone.
FORMAT_MODULE_PATH = ["postback_platform.formats"]
# A roll-up refresh stops starting new days after this many seconds (a day at a
# million events takes a few seconds); what is left waits for the next run.
STATS_ROLLUP_TIME_BUDGET_SECONDS = env.float("STATS_ROLLUP_TIME_BUDGET_SECONDS", default=20.0)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start when it is missing.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the apps, so `make run` and a fresh
# gunicorn host need no collectstatic step.
WHITENOISE_USE_FINDERS = True

# --- Security (effective when DEBUG is off) ------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# Proxies in front of the web processes, each appending its peer's address to
# X-Forwarded-For: the client is that many entries from the right
# (lib.client_address). Without proxies, REMOTE_ADDR is the client.
_proxies = env.str("TRUSTED_PROXY_COUNT", default="")
if not (_proxies == "" or (_proxies.isdigit() and _proxies.isascii())):
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be a whole number of proxies (0 or more), not {_proxies!r}.")
TRUSTED_PROXY_COUNT = int(_proxies) if _proxies else (1 if BEHIND_TLS_PROXY else 0)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG) if env.str("SECURE_COOKIES", default="") else not DEBUG
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: the console's own requests take the token from the page's form.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# Bodies above this are refused with 413 before any parsing. A batch of 1,000
# events with full params fits well inside 5 MiB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- REST API -----------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsAdminKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["lib.parsers.SizeLimitedJSONParser"],
    "EXCEPTION_HANDLER": "lib.api_errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env.str("API_THROTTLE_RATE", default="6000/min"),
    },
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Postback platform API",
    "DESCRIPTION": (
        "Player events in, affiliate postbacks out. Authenticate with "
        "`Authorization: Bearer <api key>`; create a key with "
        "`manage.py create_api_key NAME --role platform|admin`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the project's own static files, pinned with the rest: no CDN, no `@latest`.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Constraints validation enforces that fields cannot state, and the links between operations.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ingest.api_docs.event_input_constraints",
        "partners.api_docs.configuration_constraints",
        "lib.api_docs.links_declare",
    ],
    "ENUM_NAME_OVERRIDES": {
        "DeliveryStatusEnum": "deliveries.models.Delivery.Status",
        "IngestStatusEnum": "ingest.services.INGEST_STATUSES",
    },
}

# --- Cache (rate limits, throttles) ----------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# Every ingest asks Redis (throttle, configuration version, wake-up): an unreachable Redis
# must fail those calls within this time instead of holding the request on a silent network.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=2.0)
if REDIS_URL:
    CACHES = {"default": {
        "BACKEND": "lib.redis_cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
    }}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _on_with_shared_cache(name: str) -> bool:
    """A switch that, left empty (as in .env.example), is on exactly when REDIS_URL gives every process one cache."""
    return env.bool(name) if env.str(name, default="") else bool(REDIS_URL)


# Each process keeps the API keys it has accepted while their version in the
# shared cache stands (accounts.accepted_keys); without one, keys are read every time.
API_KEY_CACHE = _on_with_shared_cache("API_KEY_CACHE")
# After this many failed API authentications from one client address within
# the window, that address is answered 429 until the window ends.
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=10)
API_AUTH_FAILURE_WINDOW_SECONDS = env.int("API_AUTH_FAILURE_WINDOW_SECONDS", default=60)
if API_AUTH_FAILURE_LIMIT < 1 or API_AUTH_FAILURE_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("API_AUTH_FAILURE_LIMIT and API_AUTH_FAILURE_WINDOW_SECONDS must be 1 or more.")

# Each process keeps the routing configuration (endpoints, partners, event
# types) between changes, checking its version in the shared cache on every
# ingest (partners.config_cache). Without a cache all processes share, a
# change made in one process could not reach the others: read it every time.
POSTBACK_CONFIG_CACHE = _on_with_shared_cache("POSTBACK_CONFIG_CACHE")

# --- Admin exports --------------------------------------------------------------

# A list with more rows than this exports in the background, with a progress bar (reporting.export_jobs).
EXPORT_INLINE_ROWS = env.int("EXPORT_INLINE_ROWS", default=50_000)
# Where workers write those files and web processes read them: a directory both can reach.
EXPORT_DIR = Path(env.str("EXPORT_DIR", default="") or VAR_DIR / "exports")
EXPORT_KEEP_HOURS = env.int("EXPORT_KEEP_HOURS", default=24)

# --- Celery -------------------------------------------------------------------

_FS_BROKER_DIR = VAR_DIR / "celery-broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_FS_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_FS_BROKER_DIR / "queue"),
        "data_folder_out": str(_FS_BROKER_DIR / "queue"),
        "processed_folder": str(_FS_BROKER_DIR / "processed"),
        # Kombu's default is ./control, wherever the process happens to start.
        "control_folder": str(_FS_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # A broker that is down must not hold an API request for long: the
    # database row is already committed and the scheduler will find it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Admin exports run for minutes: they have a queue and a worker of their own (Procfile "exports"), so a
# long export never holds a slot of the workers that send postbacks.
CELERY_TASK_ROUTES = {"reporting.tasks.run_export_job": {"queue": "exports"}}
# Workers log through LOGGING like the web processes (JSON lines with the delivery context), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# Beat keeps its schedule in the state folder, not in a world-writable /tmp.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Keep the worker's database connections open across tasks (the sender runs
# many short tasks); Django's CONN_MAX_AGE and health checks still recycle them.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULE = {
    "scheduler-heartbeat": {"task": "deliveries.tasks.record_heartbeat", "schedule": 10.0},
    # The recovery path: what is due in the database gets sent even when a
    # wake-up message was lost or a worker died holding a lease.
    "send-due-deliveries": {
        "task": "deliveries.tasks.send_due_deliveries",
        "schedule": env.float("POSTBACK_SCHEDULER_INTERVAL_SECONDS", default=2.0),
        "options": {"expires": 10},
    },
    "prune-attempt-bodies": {"task": "deliveries.tasks.prune_attempt_bodies", "schedule": 3600.0},
    # Storage by month (lib.partitioning): the partitions of the months ahead, and retention's drops.
    "create-partitions-ahead": {"task": "ingest.tasks.create_partitions_ahead", "schedule": 6 * 3600.0},
    "apply-retention": {"task": "ingest.tasks.apply_retention", "schedule": 3600.0, "options": {"expires": 3600}},
    # The statistics read a daily roll-up; this refreshes the days touched since the last run.
    "refresh-stats-rollup": {
        "task": "reporting.tasks.refresh_stats_rollup",
        "schedule": env.float("STATS_ROLLUP_INTERVAL_SECONDS", default=60.0),
        "options": {"expires": env.float("STATS_ROLLUP_INTERVAL_SECONDS", default=60.0)},
    },
    "tend-export-jobs": {"task": "reporting.tasks.tend_export_jobs", "schedule": 60.0, "options": {"expires": 60}},
    "evaluate-alerts": {
        "task": "monitoring.tasks.evaluate_alerts",
        "schedule": env.float("ALERT_EVALUATION_INTERVAL_SECONDS", default=60.0),
        "options": {"expires": 60},
    },
}
# /healthz/ready fails when beat + a worker have not recorded a heartbeat for this long.
SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS = env.int("SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS", default=60)

# --- Postbacks ----------------------------------------------------------------


def _parse_networks(raw, name="POSTBACK_ALLOWED_NETWORKS"):
    networks = []
    for item in raw:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not a CIDR network ({exc}). "
                "Use a comma-separated list such as 127.0.0.0/8,10.1.2.0/24."
            ) from None
    return networks


POSTBACK_ALLOWED_NETWORKS = _parse_networks(env.list("POSTBACK_ALLOWED_NETWORKS", default=[]))
POSTBACK_USER_AGENT = env.str("POSTBACK_USER_AGENT", default="PostbackPlatform/1.0")
# The sender: transfers one worker process keeps in flight, transfers in flight
# per endpoint across all workers, seconds one sender task keeps going, and the
# lease after which a dead worker's claims are free again. A live sender renews
# its lease every third of it, so a transfer may take longer than the lease.
POSTBACK_SENDER_MAX_IN_FLIGHT = env.int("POSTBACK_SENDER_MAX_IN_FLIGHT", default=64)
POSTBACK_ENDPOINT_CONCURRENCY = env.int("POSTBACK_ENDPOINT_CONCURRENCY", default=32)
for _name in ("POSTBACK_SENDER_MAX_IN_FLIGHT", "POSTBACK_ENDPOINT_CONCURRENCY"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")
POSTBACK_SENDER_TIME_BUDGET_SECONDS = env.float("POSTBACK_SENDER_TIME_BUDGET_SECONDS", default=20.0)
POSTBACK_LEASE_SECONDS = env.int("POSTBACK_LEASE_SECONDS", default=30)
# A renewal due a third into the lease must land before it ends, even when the
# database keeps it waiting as long as it may (connecting, or SQLite's busy wait).
_db_wait, _db_wait_name = (
    (float(_db["OPTIONS"]["timeout"]), "the SQLite busy timeout")
    if _db["ENGINE"] == "django.db.backends.sqlite3"
    else (float(_db["OPTIONS"]["connect_timeout"]), "DB_CONNECT_TIMEOUT")
)
if POSTBACK_LEASE_SECONDS < 1.5 * _db_wait:
    raise ImproperlyConfigured(
        f"POSTBACK_LEASE_SECONDS={POSTBACK_LEASE_SECONDS} is too short: a sender renews its lease every third of it, "
        f"and a renewal may wait {_db_wait:g} s for the database ({_db_wait_name}); "
        f"set POSTBACK_LEASE_SECONDS to at least {math.ceil(1.5 * _db_wait)}."
    )
# Seconds between retries, one entry per failed attempt; the last repeats.
_retry_schedule = env.list("POSTBACK_RETRY_SCHEDULE", default="30,120,300,900,1800,3600,7200,14400,28800,43200".split(","))
try:
    POSTBACK_RETRY_SCHEDULE = [float(item) for item in _retry_schedule]
except ValueError:
    POSTBACK_RETRY_SCHEDULE = []
if not POSTBACK_RETRY_SCHEDULE or min(POSTBACK_RETRY_SCHEDULE) < 0:
    raise ImproperlyConfigured("POSTBACK_RETRY_SCHEDULE must be a comma-separated list of seconds, e.g. 30,120,300.")
POSTBACK_RETRY_AFTER_CAP_SECONDS = env.int("POSTBACK_RETRY_AFTER_CAP_SECONDS", default=3600)
# The circuit breaker: an endpoint whose circuit is open is probed with one held delivery,
# first after POSTBACK_CIRCUIT_PROBE_MIN_SECONDS, the wait doubling up to the max; after
# POSTBACK_DISABLE_AFTER_HOURS open it is paused for a manager to look at.
POSTBACK_CIRCUIT_PROBE_MIN_SECONDS = env.float("POSTBACK_CIRCUIT_PROBE_MIN_SECONDS", default=30.0)
POSTBACK_CIRCUIT_PROBE_MAX_SECONDS = env.float("POSTBACK_CIRCUIT_PROBE_MAX_SECONDS", default=900.0)
POSTBACK_DISABLE_AFTER_HOURS = env.float("POSTBACK_DISABLE_AFTER_HOURS", default=72.0)
if not 0 < POSTBACK_CIRCUIT_PROBE_MIN_SECONDS <= POSTBACK_CIRCUIT_PROBE_MAX_SECONDS:
    raise ImproperlyConfigured(
        "POSTBACK_CIRCUIT_PROBE_MIN_SECONDS must be above 0 and at most POSTBACK_CIRCUIT_PROBE_MAX_SECONDS."
    )
# Certificates HTTPS postbacks are verified against: a PEM file, or empty for the system's trust store.
POSTBACK_CA_BUNDLE = env.str("POSTBACK_CA_BUNDLE", default="")
# A wake-up message is published after an ingest commits unless one is
# already waiting; that needs a cache all processes share (REDIS_URL).
POSTBACK_COALESCE_WAKE_UPS = _on_with_shared_cache("POSTBACK_COALESCE_WAKE_UPS")
# Hours a rotated-out signing secret keeps signing beside the new one.
POSTBACK_SECRET_ROTATION_GRACE_HOURS = env.int("POSTBACK_SECRET_ROTATION_GRACE_HOURS", default=24)
# Request and response bodies of attempts older than this are cleared (the rest of the record stays).
POSTBACK_ATTEMPT_BODY_RETENTION_DAYS = env.int("POSTBACK_ATTEMPT_BODY_RETENTION_DAYS", default=30)

# --- Storage: partitions and retention (PostgreSQL; docs/operating.md, "Storage over years") ----------

# Months per partition of events, deliveries and attempts; a divisor of 12, so periods start in January.
POSTBACK_PARTITION_MONTHS = env.int("POSTBACK_PARTITION_MONTHS", default=1)
if POSTBACK_PARTITION_MONTHS not in (1, 2, 3, 4, 6, 12):
    raise ImproperlyConfigured(
        f"POSTBACK_PARTITION_MONTHS must divide the year (1, 2, 3, 4, 6 or 12), not {POSTBACK_PARTITION_MONTHS}."
    )
# Partitions are kept ready for this many months after the current one.
POSTBACK_PARTITIONS_AHEAD_MONTHS = env.int("POSTBACK_PARTITIONS_AHEAD_MONTHS", default=3)
if POSTBACK_PARTITIONS_AHEAD_MONTHS < 1:
    raise ImproperlyConfigured("POSTBACK_PARTITIONS_AHEAD_MONTHS must be 1 or more.")
# Whole partitions older than this many days are dropped; 0 keeps them for ever. Deliveries cannot
# outlive their events, nor attempts their deliveries: each defaults to the one above it.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=0)
DELIVERY_RETENTION_DAYS = env.int("DELIVERY_RETENTION_DAYS", default=EVENT_RETENTION_DAYS)
ATTEMPT_RETENTION_DAYS = env.int("ATTEMPT_RETENTION_DAYS", default=DELIVERY_RETENTION_DAYS)


def _retention_check(name, days, outer_name, outer_days):
    if days < 0:
        raise ImproperlyConfigured(f"{name} must be 0 (keep for ever) or a number of days, not {days}.")
    if outer_days and (not days or days > outer_days):
        kept = "for ever" if not days else f"{days} days"
        raise ImproperlyConfigured(
            f"{name} keeps rows {kept}, longer than {outer_name}={outer_days}: a row cannot outlive the one it "
            f"belongs to. Set {name} to {outer_days} or less, or leave it unset to follow {outer_name}."
        )


_retention_check("EVENT_RETENTION_DAYS", EVENT_RETENTION_DAYS, "", 0)
_retention_check("DELIVERY_RETENTION_DAYS", DELIVERY_RETENTION_DAYS, "EVENT_RETENTION_DAYS", EVENT_RETENTION_DAYS)
_retention_check("ATTEMPT_RETENTION_DAYS", ATTEMPT_RETENTION_DAYS, "DELIVERY_RETENTION_DAYS", DELIVERY_RETENTION_DAYS)
# Where each partition is written as gzip-compressed CSV before retention drops it; empty: dropped unarchived.
RETENTION_ARCHIVE_DIR = env.str("RETENTION_ARCHIVE_DIR", default="")

# --- Monitoring: metrics and alerts -----------------------------------------------

# GET /metrics answers a request with this bearer token, or from an address in
# these networks; with neither set it answers no one (403).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = _parse_networks(env.list("METRICS_ALLOWED_NETWORKS", default=[]), "METRICS_ALLOWED_NETWORKS")
# Alerts go to the users of the "Affiliate managers" group, these addresses, and the chat webhook when set.
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_FAILURE_RATE_WINDOW_MINUTES = env.int("ALERT_FAILURE_RATE_WINDOW_MINUTES", default=15)
ALERT_FAILURE_RATE_THRESHOLD = env.float("ALERT_FAILURE_RATE_THRESHOLD", default=0.5)
ALERT_FAILURE_RATE_MIN_ATTEMPTS = env.int("ALERT_FAILURE_RATE_MIN_ATTEMPTS", default=20)
ALERT_BACKLOG_AGE_SECONDS = env.int("ALERT_BACKLOG_AGE_SECONDS", default=600)
if not 0 < ALERT_FAILURE_RATE_THRESHOLD <= 1:
    raise ImproperlyConfigured("ALERT_FAILURE_RATE_THRESHOLD must be a fraction above 0 and at most 1, e.g. 0.5.")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="postbacks@localhost")

# --- Logging ------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "lib.logs.JsonFormatter"},
        "text": {
            "()": "lib.logs.RedactingTextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
