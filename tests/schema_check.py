"""The output messages tests see are checked against their schema files in schemas/: the contract downstream
services in any language read. Imported by the agent tests' recording sender and the integration tests' output
collection (tests/ is on the import path through its conftest)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema_errors(name: str, body: object) -> list[str]:
    """What in ``body`` breaks ``schemas/{name}.schema.json`` (empty when it conforms)."""
    return [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(name).iter_errors(body)]


def assert_valid(name: str, body: object) -> None:
    """Fail with every way ``body`` breaks ``schemas/{name}.schema.json``."""
    problems = schema_errors(name, body)
    assert not problems, problems
