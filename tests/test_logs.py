import json
import logging

import pytest

from lib.logs import JsonFormatter, RedactingTextFormatter, redact

KEY = "pbk_1a2b3c4d_Zm9vYmFyYmF6cXV4cXV1eHh5enp5MTIzNDU2Nzg5MA"


def _record(message: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord("deliveries.sender", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize(
    "text",
    [
        f"auth failed for {KEY}",
        "headers {'Authorization': 'Bearer s3cr3t-token-value'}",
        "webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        "secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ],
)
def test_secrets_are_masked(text):
    masked = redact(text)

    for secret in (KEY, "s3cr3t-token-value", "K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN", "MfKQ9r8GKYqrTwjUPD8I"):
        assert secret not in masked
    assert "[redacted]" in masked


def test_json_lines_carry_the_delivery_context():
    line = JsonFormatter().format(_record("attempt failed", delivery_id=42, event_id="e-1", endpoint_id=7, attempt=3))

    entry = json.loads(line)
    assert entry["message"] == "attempt failed"
    assert (entry["delivery_id"], entry["event_id"], entry["endpoint_id"], entry["attempt"]) == (42, "e-1", 7, 3)
    assert entry["level"] == "WARNING" and entry["logger"] == "deliveries.sender"


def test_text_lines_are_readable_and_redacted():
    formatter = RedactingTextFormatter("%(levelname)s %(message)s")

    line = formatter.format(_record(f"bad key {KEY}", delivery_id=42))

    assert line == "WARNING bad key pbk_[redacted] delivery_id=42"
