"""The one JSON codec of the project (orjson), shared by the worker, the CLI and the tests."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """Serialize dataclasses, datetimes and plain values to compact UTF-8 JSON.

    >>> dumps({"a": 1})
    b'{"a":1}'
    """
    return orjson.dumps(value, option=_OPTIONS)


def dumps_pretty(value: Any) -> bytes:
    return orjson.dumps(value, option=_OPTIONS | orjson.OPT_INDENT_2)


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``orjson.JSONDecodeError`` (a ``ValueError``) on bad input."""
    return orjson.loads(data)


def to_plain(value: Any) -> Any:
    """A record as plain JSON types (dicts, lists, str, numbers), as a consumer would see it."""
    return orjson.loads(dumps(value))
