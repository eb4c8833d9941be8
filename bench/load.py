"""Load clients: raw HTTP/1.1 over keep-alive asyncio connections, one coroutine per connection.

A raw client costs far less CPU per request than ``requests`` or
``http.client``, which matters when the client shares two cores with the
server it measures. Every loop stops at a request count or a time limit,
whichever comes first.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
CONNECT_TIMEOUT = 5
RESPONSE_TIMEOUT = 30


def http_request(method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Outcome:
    index: int
    scheduled: float  # time.time() the request was due (open loop) or sent (closed loop)
    sent: float
    done: float
    status: int


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def statuses(self) -> Counter:
        return Counter(outcome.status for outcome in self.outcomes)

    def ok_count(self, *statuses: int) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status in statuses)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"])), keep_alive
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return status, await _read_chunked(reader), keep_alive
    return status, await reader.read(), False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        body += await reader.readexactly(size + 2)
        if size == 0:
            return bytes(body)
        del body[-2:]


class _Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def exchange(self, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, self.port, limit=2**22), CONNECT_TIMEOUT
            )
        self.writer.write(payload)
        try:
            status, body, keep_alive = await asyncio.wait_for(_read_response(self.reader), RESPONSE_TIMEOUT)
        except BaseException:
            self.close()
            raise
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _run(port, make_request, *, count, max_seconds, concurrency, due_at) -> LoadResult:
    result = LoadResult()
    next_index = iter(range(count))
    start = time.time()
    deadline = start + max_seconds

    async def connection_loop() -> None:
        connection = _Connection(port)
        for index in next_index:
            due = due_at(start, index)
            if due > deadline or time.time() > deadline:
                break
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.time()
            try:
                status, _ = await connection.exchange(make_request(index))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                connection.close()
                continue
            result.outcomes.append(Outcome(index, max(due, start), sent, time.time(), status))
        connection.close()

    workers = [asyncio.create_task(connection_loop()) for _ in range(concurrency)]
    await asyncio.wait(workers, timeout=max_seconds + RESPONSE_TIMEOUT)
    for worker in workers:
        worker.cancel()
    result.elapsed = time.time() - start
    return result


def closed_loop(port: int, make_request: Callable[[int], bytes], *, count: int, max_seconds: float, concurrency: int):
    """As fast as ``concurrency`` connections go, each sending its next request when the last one answered."""
    return asyncio.run(
        _run(port, make_request, count=count, max_seconds=max_seconds, concurrency=concurrency,
             due_at=lambda start, index: start)
    )


def open_loop(port: int, make_request: Callable[[int], bytes], *, rate: float, count: int, max_seconds: float,
              concurrency: int):
    """Request ``i`` is due at ``start + i / rate``, whatever the server's pace (no coordinated omission)."""
    return asyncio.run(
        _run(port, make_request, count=count, max_seconds=max_seconds, concurrency=concurrency,
             due_at=lambda start, index: start + index / rate)
    )


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
