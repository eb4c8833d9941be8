from unittest import mock

import pytest

from deliveries import tasks
from deliveries.tasks import SENDER_WAKE_UP, sender_woken


@pytest.fixture
def published():
    with mock.patch.object(tasks.send_due_deliveries, "apply_async") as apply_async:
        yield apply_async


def test_wake_ups_coalesce_until_a_sender_starts(settings, published):
    settings.POSTBACK_COALESCE_WAKE_UPS = True

    for _ in range(5):
        SENDER_WAKE_UP.apply_async()
    assert published.call_count == 1

    sender_woken()
    SENDER_WAKE_UP.apply_async()
    assert published.call_count == 2


def test_without_a_shared_cache_every_commit_wakes_a_sender(settings, published):
    settings.POSTBACK_COALESCE_WAKE_UPS = False

    for _ in range(3):
        SENDER_WAKE_UP.apply_async()

    assert published.call_count == 3


def test_a_failed_publish_lets_the_next_commit_try_again(settings, published):
    settings.POSTBACK_COALESCE_WAKE_UPS = True
    published.side_effect = [ConnectionError("broker down"), None]

    with pytest.raises(ConnectionError):
        SENDER_WAKE_UP.apply_async()
    SENDER_WAKE_UP.apply_async()

    assert published.call_count == 2
