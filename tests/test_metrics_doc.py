"""docs/metrics.md carries the registry's catalogue; it must match the code."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from analytics.registry import METRICS


def test_docs_metrics_md_matches_the_registry():
    call_command("metrics_doc", "--check")


def test_every_metric_has_a_label_unit_and_formula():
    assert METRICS, "the registry is empty"
    for metric in METRICS.values():
        assert metric.label and metric.unit and len(metric.formula) > 20, metric.key


def test_check_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "metrics.md"
    stale.write_text("# x\n<!-- registry:start -->\nold\n<!-- registry:end -->\n", encoding="utf-8")
    with pytest.raises(CommandError, match="out of date"):
        call_command("metrics_doc", "--check", "--path", str(stale))
