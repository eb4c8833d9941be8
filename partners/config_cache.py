"""The routing configuration every ingest reads, kept in each process between changes.

Endpoints (their partner, event types and filters), partners, event types and
active qualification rules change a few times a day and are read by every ingest request. Each process
keeps one loaded copy tagged with the version token held in the shared cache
(Redis); every change to those tables puts a new token there once its
transaction has committed (``partners.signals``), so the next request in every
process loads the configuration again. An ingest then costs one cache GET
instead of four statements, and that GET rides in the
round trip the API authentication makes anyway (``lib.shared_reads``).

The copy is bypassed, and the database read as before, when
- no shared cache is configured (``POSTBACK_CONFIG_CACHE`` off): other
  processes could not tell this one about their changes;
- the cache cannot be reached: a lost change must not be missed for long;
- the caller is inside a transaction: it may have changed the configuration
  itself, and uncommitted rows must never be cached.
A copy older than ``MAX_AGE_SECONDS`` is loaded again whatever the token says,
which bounds the effect of a token lost with the cache's data.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from events.models import EventType
from lib.shared_reads import NOT_READ, prefetched, shared_read_register
from lib.versions import version_replace, version_seed

from .models import Partner, QualificationRule
from .selectors import EndpointRoute, endpoint_routes

logger = logging.getLogger(__name__)

VERSION_KEY = "routing-config-version"
MAX_AGE_SECONDS = 60
# Read in the round trip an API request's authentication makes: an ingest then makes none of its own.
shared_read_register(VERSION_KEY)


@dataclass(frozen=True)
class RoutingConfig:
    """Read-only: one instance is shared by every thread of the process."""

    routes: tuple[EndpointRoute, ...]
    partners: Mapping[str, Partner]
    partners_by_id: Mapping[int, Partner]
    amount_required: Mapping[str, bool]
    # Active qualification rules by partner id: most partners have none, and their ingest pays nothing.
    qualification_rules: Mapping[int, tuple[QualificationRule, ...]]


@dataclass(frozen=True)
class _Loaded:
    version: str
    loaded_at: float
    config: RoutingConfig


_loaded: _Loaded | None = None


def routing_config() -> RoutingConfig:
    """The current configuration: this process's copy while its version is current, else freshly loaded."""
    global _loaded  # noqa: PLW0603 - the process-wide copy
    version = None if connection.in_atomic_block else _current_version()
    if version is None:
        return routing_config_load()
    loaded = _loaded
    if loaded is None or loaded.version != version or time.monotonic() - loaded.loaded_at > MAX_AGE_SECONDS:
        # The version is read before the rows: a change committed in between
        # has already replaced it, so this copy is dropped at the next request.
        loaded = _Loaded(version=version, loaded_at=time.monotonic(), config=routing_config_load())
        _loaded = loaded
    return loaded.config


def routing_config_load() -> RoutingConfig:
    partners = list(Partner.objects.all())
    return RoutingConfig(
        routes=tuple(endpoint_routes()),
        partners={partner.slug: partner for partner in partners},
        partners_by_id={partner.pk: partner for partner in partners},
        amount_required=dict(EventType.objects.values_list("slug", "requires_amount")),
        qualification_rules=_qualification_rules(),
    )


def _qualification_rules() -> dict[int, tuple[QualificationRule, ...]]:
    rules: dict[int, list[QualificationRule]] = defaultdict(list)
    for rule in QualificationRule.objects.filter(is_active=True).order_by("pk"):
        rules[rule.partner_id].append(rule)
    return {partner_id: tuple(items) for partner_id, items in rules.items()}


def routing_config_changed() -> None:
    """Make every process load the configuration again once the current transaction commits.

    One new version per transaction, however many rows it changes: a bump
    already waiting in an enclosing savepoint commits or rolls back with this change.
    """
    enclosing = set(connection.savepoint_ids)
    if any(func is _new_version and sids <= enclosing for sids, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(_new_version)


def routing_config_forget() -> None:
    """Drop this process's copy (tests, which empty tables without a commit hook)."""
    global _loaded  # noqa: PLW0603 - the process-wide copy
    _loaded = None


def _current_version() -> str | None:
    if not settings.POSTBACK_CONFIG_CACHE:
        return None
    try:
        version = prefetched(VERSION_KEY)
        if version is NOT_READ:
            version = cache.get(VERSION_KEY)
        if version is None:
            # First reader after a cache flush: agree on one token with every other process.
            version_seed(VERSION_KEY)
            version = cache.get(VERSION_KEY)
    except Exception:  # noqa: BLE001 - whatever the cache backend raises when unreachable
        logger.warning("shared cache unreachable; routing configuration read from the database")
        return None
    return version


def _new_version() -> None:
    version_replace(VERSION_KEY, what="configuration change", max_age_seconds=MAX_AGE_SECONDS)
