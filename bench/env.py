"""Where a benchmark run keeps its data, and the environment every process it starts gets."""

import os
import secrets

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
MAIN_DB = "bench_main"
SCALE_DB = "bench_scale"
REDIS_SERVER = "redis://127.0.0.1:6379"
BROKER_DB, CACHE_DB, PEER_BROKER_DB = 10, 11, 12
# High enough never to answer 429 during a run; the throttle check itself still runs on every request.
API_THROTTLE_RATE = "100000000/min"


def database_url(name: str = MAIN_DB) -> str:
    return f"{PG_SERVER}/{name}"


def redis_url(db: int) -> str:
    return f"{REDIS_SERVER}/{db}"


def product_env(*, database: str = MAIN_DB, settings_module: str = "bench.settings") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=database_url(database),
        CELERY_BROKER_URL=redis_url(BROKER_DB),
        REDIS_URL=redis_url(CACHE_DB),
        SECRET_KEY=env.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50),
        POSTBACK_ALLOWED_NETWORKS="127.0.0.0/8",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        API_THROTTLE_RATE=API_THROTTLE_RATE,
        PYTHONUNBUFFERED="1",
    )
    env["BENCH_SECRET_KEY"] = env["SECRET_KEY"]  # one key for the run, so every child agrees
    return env


def peer_env() -> dict[str, str]:
    env = product_env(settings_module="bench.peer.settings")
    env["CELERY_BROKER_URL"] = redis_url(PEER_BROKER_DB)
    return env
