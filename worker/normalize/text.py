"""bytes → clean Unicode text."""

from __future__ import annotations

from worker.records import InputRejected, RejectCode


def decode_bytes(data: bytes) -> str:
    """Decode bytes as UTF-8, falling back to a detected encoding; reject binary data."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRejected(RejectCode.BINARY_BODY, "not UTF-8 text") from None
