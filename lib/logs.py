"""Log formatting: one JSON object per line in production, readable text in development.

Both formats pass through ``redact`` so an API key, a bearer token or a
signature that ends up in a message (an exception text, a URL) is masked
before it reaches a log file.
"""

import json
import logging
import re
from datetime import UTC, datetime

# Context fields that delivery and ingest code pass with ``extra=``; kept as top-level JSON keys.
CONTEXT_FIELDS = ("event_id", "delivery_id", "endpoint_id", "partner", "attempt", "status_code", "outcome")

_SECRET_PATTERNS = [
    (re.compile(r"pbk_[0-9a-f]{8}_[A-Za-z0-9_\-]+"), "pbk_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+(\s+[^'\",}\s]+)?"), r"\1[redacted]"),
    (re.compile(r"v1,[A-Za-z0-9+/=]{20,}"), "v1,[redacted]"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name))
        return redact(f"{line} {context}" if context else line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in CONTEXT_FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))
