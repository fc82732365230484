"""The examples in the worker's docstrings run: a docstring that shows a result the code no longer gives fails here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import worker

# every module but the entry point (importing worker.__main__ runs the command line)
MODULES = sorted(info.name for info in pkgutil.walk_packages(worker.__path__, "worker.")
                 if info.name != "worker.__main__")


def examples_in(name: str) -> int:
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(importlib.import_module(name)))


def test_the_modules_with_examples_are_found() -> None:
    assert examples_in("worker.app") > 0 and examples_in("worker.stories.link") > 0


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
