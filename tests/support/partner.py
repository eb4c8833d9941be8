"""A partner's postback receiver on 127.0.0.1 that records what it received and misbehaves on cue.

``script`` is consumed one entry per request, then ``default`` applies:
``200``/``500``/any status, ``("429", seconds)`` with Retry-After,
``"timeout"`` (answers after the client gave up), ``"reset"`` (closes the
connection with a TCP reset), ``("slow", seconds)`` (a late 200).
"""

import collections
import contextlib
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PartnerServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections from the sender would hold shutdown otherwise
    allow_reuse_address = True

    def __init__(self, *, script=(), default=200, delay: float = 0.0, timeout_seconds: float = 2.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = collections.deque(script)
        self.default = default
        self.delay = delay
        self.timeout_seconds = timeout_seconds
        self.received: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_behaviour(self):
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def handle_error(self, request, client_address):
        # A sender killed mid-request leaves a broken pipe behind; that is the point of the test, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def webhook_ids(self) -> list[str]:
        with self.lock:
            return [request["webhook-id"] for request in self.received]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the test reports what matters
        pass

    def _receive(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server: PartnerServer = self.server
        with server.lock:
            server.received.append(
                {"webhook-id": self.headers.get("webhook-id"), "path": self.path, "body": body, "at": time.time()}
            )
        self._answer(server.next_behaviour())

    do_GET = do_POST = _receive

    def _answer(self, behaviour):
        server: PartnerServer = self.server
        kind, argument = behaviour if isinstance(behaviour, tuple) else (behaviour, None)
        if server.delay:
            time.sleep(server.delay)
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if kind == "timeout":
            time.sleep(server.timeout_seconds + 0.5)
        if kind == "slow":
            time.sleep(argument)
        status = 200 if kind in ("timeout", "slow") else int(kind)
        self.send_response(status)
        if argument is not None and status == 429:
            self.send_header("Retry-After", str(argument))
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK" if status < 300 else b"NO")


@contextlib.contextmanager
def partner_server(**options):
    server = PartnerServer(**options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
