"""A fast partner: an asyncio HTTP/1.1 keep-alive server that answers 200 and records every request.

Run as ``python -m bench.sink PORT``. Control paths (not counted):

- ``GET /__stats``  -> ``{"count", "unique", "first", "last", "connections"}``;
- ``GET /__dump``   -> ``[[received_at, target], ...]`` for every counted request;
- ``POST /__reset`` -> forget everything;
- ``POST /__delay/MS`` -> answer every postback MS milliseconds late (a slow partner).

``received_at`` is ``time.time()`` when the request's last byte arrived, so
it compares with the load client's clock on the same machine. ``unique``
counts distinct request targets: postback URLs carry the delivery id, so a
re-sent delivery shows up as a duplicate, not as a new postback.
"""

import asyncio
import json
import sys
import time

MAX_HEADER_BYTES = 64 * 1024
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK"


class Recorder:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received: list[tuple[float, str]] = []
        self.targets: set[str] = set()
        self.connections = 0  # that carried a postback since the reset: how well senders reuse keep-alive
        self.delay = 0.0

    def record(self, target: str) -> None:
        self.received.append((time.time(), target))
        self.targets.add(target)

    def stats(self) -> dict:
        return {
            "count": len(self.received),
            "unique": len(self.targets),
            "first": self.received[0][0] if self.received else None,
            "last": self.received[-1][0] if self.received else None,
            "connections": self.connections,
        }


def control_response(recorder: Recorder, method: str, target: str) -> bytes:
    if target == "/__reset" and method == "POST":
        recorder.reset()
        payload = b"{}"
    elif target.startswith("/__delay/") and method == "POST":
        recorder.delay = int(target.rsplit("/", 1)[1]) / 1000
        payload = b"{}"
    elif target == "/__dump":
        payload = json.dumps(recorder.received).encode()
    else:
        payload = json.dumps(recorder.stats()).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(payload)}\r\nContent-Type: application/json\r\n\r\n"
    return head.encode() + payload


class SinkProtocol(asyncio.Protocol):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.buffer = b""
        self.transport = None
        self.counted = False  # control requests and port probes are not senders' connections

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self.transport.close()
                return
            length = content_length(self.buffer[:head_end])
            request_end = head_end + 4 + length
            if len(self.buffer) < request_end:
                return
            request_line = self.buffer[: self.buffer.find(b"\r\n")].decode("latin-1")
            self.buffer = self.buffer[request_end:]
            self.answer(request_line)

    def answer(self, request_line: str) -> None:
        method, target, _version = request_line.split(" ", 2)
        if target.startswith("/__"):
            self.transport.write(control_response(self.recorder, method, target))
            return
        if not self.counted:
            self.counted = True
            self.recorder.connections += 1
        self.recorder.record(target)
        if self.recorder.delay:
            # Every answer on a connection waits the same time, so they still leave in order.
            asyncio.get_running_loop().call_later(self.recorder.delay, self._write_late)
        else:
            self.transport.write(OK)

    def _write_late(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(OK)


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def serve(port: int) -> None:
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(recorder), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
