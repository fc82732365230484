"""deploy/README.md lists every metric the worker serves, with the labels it carries: an operator reads there
what to chart and alert on, so a metric added without a row (or a row left behind) fails here."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from worker.app import WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]


def served() -> dict[str, MetricWrapperBase]:
    """The worker's metrics by the name Prometheus shows (counters with ``_total``)."""
    out = {}
    for metric in vars(WorkerMetrics()).values():
        if isinstance(metric, MetricWrapperBase):
            (family,) = metric.describe()
            out[f"{family.name}_total" if family.type == "counter" else family.name] = metric
    return out


def documented() -> dict[str, tuple[str, ...]]:
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    section = text.split("## Watch", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): tuple(filter(None, (m.group(2) or "").split(",")))
            for m in re.finditer(r"`(newsworker_[a-z_]+)(?:\{([a-z_,]*)\})?`", section)}


def test_every_served_metric_is_documented_and_nothing_else():
    assert set(documented()) == set(served())


def test_documented_labels_are_the_ones_each_metric_takes():
    metrics = served()
    for name, labels in documented().items():
        metric = metrics[name]
        if labels:
            metric.labels(**{label: "x" for label in labels})  # raises unless these are exactly its labels
        else:
            assert metric.describe()[0].samples == [] and not _takes_labels(metric), name


def _takes_labels(metric: MetricWrapperBase) -> bool:
    try:
        metric.labels("x")
    except ValueError as error:
        return "No label names were set" not in str(error)
    return True
