"""Platform clients for the fault suite: threads posting events to the real web app and noting every answer."""

import threading
import time
from dataclasses import dataclass, field

import requests


@dataclass
class Answers:
    statuses: dict[str, list[int]] = field(default_factory=dict)  # event_id → every status it got, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, event_id: str, status: int) -> None:
        with self.lock:
            self.statuses.setdefault(event_id, []).append(status)

    def all_statuses(self) -> list[int]:
        with self.lock:
            return [status for statuses in self.statuses.values() for status in statuses]

    def stored(self) -> set[str]:
        """Event ids the API confirmed as stored (201, or 200 for a repeat)."""
        with self.lock:
            return {event_id for event_id, statuses in self.statuses.items() if statuses[-1] in (200, 201)}


def post_event(session: requests.Session, base_url: str, key: str, body: dict) -> int:
    try:
        response = session.post(f"{base_url}/api/v1/events/", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {key}"})
    except requests.RequestException:
        return 0  # no answer at all: the client would retry, as below
    return response.status_code


def post_continuously(*, base_url: str, key: str, partner: str, clients: int, stop: threading.Event,
                      retry_unavailable: bool = False) -> tuple[Answers, list[threading.Thread]]:
    """Each client posts new registrations until ``stop``; with ``retry_unavailable`` it resends one that got 503."""
    answers = Answers()

    def client(number: int):
        session, sequence = requests.Session(), 0
        while not stop.is_set():
            sequence += 1
            event_id = f"c{number}-{sequence}"
            body = {"event_id": event_id, "type": "registration", "player_id": event_id, "partner": partner}
            for _ in range(100):
                status = post_event(session, base_url, key, body)
                answers.note(event_id, status)
                if not (retry_unavailable and status in (0, 503)):
                    break
                time.sleep(0.2)
            time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    return answers, threads


def warm_up(*, base_url: str, key: str, partner: str, posts: int = 6) -> None:
    """Let every gunicorn worker load the app before the clock of a fault starts."""
    session = requests.Session()
    for number in range(posts):
        body = {"event_id": f"warm-up-{number}", "type": "registration", "player_id": "warm-up", "partner": partner}
        status = post_event(session, base_url, key, body)
        assert status == 201, f"warm-up post answered {status}"


def through_an_outage(answers: Answers, *, stop_service, start_service, before: float = 1.0, down: float = 3.0,
                      after: float = 2.0) -> tuple[list[int], list[int]]:
    """Stop a service while clients post, start it again; the answers given while it was down, and after."""
    time.sleep(before)
    stop_service()
    down_from = len(answers.all_statuses())
    time.sleep(down)
    down_answers = answers.all_statuses()[down_from:]
    start_service()
    up_from = len(answers.all_statuses())
    time.sleep(after)
    return down_answers, answers.all_statuses()[up_from:]


def stop_posting(stop: threading.Event, clients: list[threading.Thread]) -> None:
    stop.set()
    for client in clients:
        client.join(timeout=15)


def wait_until_every_event_is_delivered(*, log, timeout: float = 60) -> None:
    """Every stored event has its delivery, and every delivery is delivered (``log``'s tail shows if not)."""
    from deliveries.models import Delivery
    from events.models import Event
    from tests.support.processes import wait_until
    from tests.support.stack import tail

    wait_until(
        lambda: Delivery.objects.count() == Event.objects.count()
        and not Delivery.objects.exclude(status="delivered").exists(),
        timeout=timeout, message=f"every event's delivery to be delivered\n{tail(log)}",
    )
