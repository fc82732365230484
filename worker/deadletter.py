"""Rejected input → dead-letter message (schemas/deadletter.schema.json). Pure.

reads: Envelope, Rejection — writes: the dead-letter message body
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from worker import __version__
from worker.records import Envelope, Rejection


def dead_letter(envelope: Envelope, rejection: Rejection, failed_at: datetime, app_id: str) -> dict[str, Any]:
    """The dead-letter message for one rejected input: the original bytes, why, and where from.

    >>> from datetime import timezone
    >>> from worker.records import RejectCode
    >>> msg = dead_letter(Envelope(value=b"{"), Rejection(RejectCode.INVALID_JSON, "bad"),
    ...                   datetime(2024, 1, 1, tzinfo=timezone.utc), "newsworker")
    >>> msg["error"]["code"], base64.b64decode(msg["value_base64"])
    ('invalid_json', b'{')
    """
    origin = envelope.origin
    value = envelope.value
    # Deterministic id: the same record dead-lettered twice (a redelivery) gets the same id.
    digest = hashlib.sha256()
    digest.update(repr((origin.topic, origin.partition, origin.offset, origin.file, origin.line)).encode())
    digest.update(value or b"")
    return {
        "id": digest.hexdigest()[:32],
        "error": {"code": str(rejection.code), "reason": rejection.reason},
        "source": {
            "topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "timestamp_ms": origin.timestamp_ms,
            "file": origin.file,
            "line": origin.line,
        },
        "key_base64": _b64(envelope.key),
        "value_base64": _b64(value),
        "value_size": len(value) if value is not None else None,
        "headers": [{"key": k, "value_base64": _b64(v)} for k, v in envelope.headers],
        "failed_at": failed_at.isoformat(),
        "worker": {"app_id": app_id, "version": __version__},
    }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")
