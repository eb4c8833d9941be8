"""A partner on 127.0.0.1 that answers every request with exactly the bytes it is told to, the way it is told to.

No HTTP library on this side: the answer may be anything a broken or hostile
server sends — any status line, header bytes, broken chunked framing — written
in pieces with pauses (a drip), then the connection closed, reset, or held open.
Every wait is bounded, and ``stop`` ends every connection.
"""

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass

MAX_REQUEST_BYTES = 256 * 1024
HOLD_OPEN_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    pieces: tuple[bytes, ...]
    pause_seconds: float = 0.0  # between pieces
    ending: str = "close"  # "close", "reset" (TCP RST) or "hold" (left open until the client goes)


class RawPartner:
    def __init__(self, answer: Answer):
        self.answer = answer
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def stop(self) -> None:
        self._stopped.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for client in self._clients:  # wakes the threads blocked reading from them
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=HOLD_OPEN_SECONDS + 1)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._clients.append(client)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            client.settimeout(HOLD_OPEN_SECONDS)
            while not self._stopped.is_set() and _read_request(client):
                with self._lock:
                    self.requests += 1
                if not self._answer(client):
                    return

    def _answer(self, client: socket.socket) -> bool:
        """Write the answer; True when the connection stays open for another request."""
        for number, piece in enumerate(self.answer.pieces):
            if number and self.answer.pause_seconds and self._stopped.wait(self.answer.pause_seconds):
                return False
            client.sendall(piece)
        if self.answer.ending == "reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        return self.answer.ending == "hold"


def _read_request(client: socket.socket) -> bool:
    """Read one request's head and its Content-Length body; False when the client closed instead."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk or len(data) > MAX_REQUEST_BYTES:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:] if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


@contextlib.contextmanager
def raw_partner(answer: Answer):
    partner = RawPartner(answer)
    try:
        yield partner
    finally:
        partner.stop()
