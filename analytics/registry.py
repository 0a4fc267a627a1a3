"""The metrics registry: every number the product shows is defined here, once (METRICS.md).

A metric has a key, a label, a unit, a formula (a paragraph shown in the UI's "how is this computed"
and in docs/metrics.md, generated from this registry) and its computation. Most metrics are
functions of summed rollup counters (`from_counters`), so the same definition serves a whole
period, one agent's row of a table or one hour of a chart; the rest read current state
(`from_context`, e.g. contacts assigned now). Dashboards, APIs, exports and PDF reports call
`value()` / `apply()`; nothing else computes a metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.utils import timezone

from analytics.access import AnalyticsScope
from analytics.periods import Period
from calls.models import AgentHourRollup
from crm.models import ChatHourRollup
from crm.rollups import table_counters, table_keys, totals, totals_many, without_agent

Counters = Mapping[str, int]
UNITS = ("count", "seconds", "percent", "score", "hours", "money")


class Context:
    """One (period, scope) to evaluate metrics in; rollup sums are read once and shared.

    Contexts made with `previous` (a trend's comparison period) join this one's family: the first
    read of a rollup table reads it for every member of the family at once (one query per level,
    not one per period), and `memo` holds other per-family reads (open tickets at each boundary)."""

    def __init__(self, period: Period, scope: AnalyticsScope, now: datetime | None = None) -> None:
        self.period, self.scope, self.now = period, scope, now or timezone.now()
        self._grouped: dict[tuple[Any, ...], dict[Any, dict[str, int]]] = {}
        self._totals: dict[type, dict[str, int]] = {}
        self.family: list[Context] = [self]
        self.memo: dict[Any, Any] = {}

    @cached_property
    def previous(self) -> Context:
        """The same scope over `period.previous()`, read together with this context."""
        return self.joined(self.period.previous())

    def joined(self, period: Period) -> Context:
        """The family member for `period` (this context, its previous one, or a new member): a metric
        that needs another period's totals (tickets resolved today, this week, this month) asks for it
        before the family's first read and costs no query of its own."""
        for member in self.family:
            if (member.period.start, member.period.end) == (period.start, period.end):
                return member
        other = Context(period, self.scope, self.now)
        other.family = self.family
        other.memo = self.memo
        self.family.append(other)
        return other

    @cached_property
    def counters(self) -> Mapping[str, int]:
        """Every counter of both rollup tables summed over the period and scope; each table is read
        only when one of its counters is first asked for."""
        return LazyCounters(self)

    @property
    def calls(self) -> dict[str, int]:
        return self._table(AgentHourRollup)

    @property
    def chat(self) -> dict[str, int]:
        return self._table(ChatHourRollup)

    def _table(self, table: type) -> dict[str, int]:
        """The period's totals of `table`, read for the whole family at once and grouped by the table's
        keys other than agent_id (campaign_id for chats), which `grouped` then serves for free."""
        if table not in self._totals:
            pending = [member for member in self.family if table not in member._totals]
            spans = [(member.period.start, member.period.end) for member in pending]
            names = table_counters(table)
            by = without_agent(table_keys(table))
            found = totals_many(table, spans, scope=self.scope.rollup, group_by=by, now=self.now)
            for member, groups in zip(pending, found, strict=True):
                summed = dict.fromkeys(names, 0)
                for counters in groups.values():
                    for name, amount in counters.items():
                        summed[name] += amount
                member._totals[table] = summed
                member._grouped[(table, by, None)] = groups
        return self._totals[table]

    def grouped(
        self, table: type, group_by: tuple[str, ...], fields: tuple[str, ...] | None = None
    ) -> dict[Any, dict[str, int]]:
        """Counters of `table` grouped by key columns, "hour" or "day" (e.g. ("agent_id",) or ("hour",));
        `fields` limits the counters summed (cheaper for long hourly series). A grouping the period's
        totals were read with is served from them, whatever `fields`."""
        read_with_totals = self._grouped.get((table, group_by, None))
        if read_with_totals is not None:
            return read_with_totals
        key = (table, group_by, fields)
        if key not in self._grouped:
            self._grouped[key] = totals(
                table,
                self.period.start,
                self.period.end,
                scope=self.scope.rollup,
                group_by=group_by,
                fields=fields,
                now=self.now,
            )
        return self._grouped[key]


class LazyCounters(Mapping[str, int]):
    """The summed counters of a Context, reading a rollup table on the first access to one of its names."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def _table_of(self, name: str) -> dict[str, int]:
        if name in _CALL_COUNTERS:
            return self._context.calls
        if name in _CHAT_COUNTERS:
            return self._context.chat
        raise KeyError(name)

    def __getitem__(self, name: str) -> int:
        return self._table_of(name)[name]

    def __iter__(self) -> Iterator[str]:
        yield from _CALL_COUNTERS
        yield from _CHAT_COUNTERS

    def __len__(self) -> int:
        return len(_CALL_COUNTERS) + len(_CHAT_COUNTERS)


_CALL_COUNTERS = tuple(table_counters(AgentHourRollup))
_CHAT_COUNTERS = tuple(table_counters(ChatHourRollup))


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    formula: str
    from_counters: Callable[[Counters], float | int] | None = None
    from_context: Callable[[Context], Any] | None = None
    # the raw rows behind the number, as a query a user can run (e.g. a call-log filter)
    drill_down: str = ""
    tags: tuple[str, ...] = field(default=())

    def value(self, context: Context) -> Any:
        if self.from_counters is not None:
            return self.from_counters(context.counters)
        if self.from_context is None:
            raise TypeError(f"metric {self.key} has no computation")
        return self.from_context(context)

    def apply(self, counters: Counters) -> float | int:
        """The metric over any set of counters (one agent's, one hour's...)."""
        if self.from_counters is None:
            raise TypeError(f"metric {self.key} is not computed from counters")
        return self.from_counters(counters)

    def describe(self) -> dict[str, str]:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "formula": self.formula,
            "drill_down": self.drill_down,
        }


METRICS: dict[str, Metric] = {}


def metric(
    key: str,
    label: str,
    unit: str,
    formula: str,
    *,
    drill_down: str = "",
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Metric]:
    """Register the decorated function as metric `key`. A function of one argument named `c` reads
    counters; one whose argument is named `ctx` reads a Context."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r} for metric {key}")

    def register(function: Callable[..., Any]) -> Metric:
        if key in METRICS:
            raise ValueError(f"metric {key} is defined twice")
        argument = function.__code__.co_varnames[0]
        kind = {"from_counters": function} if argument == "c" else {"from_context": function}
        METRICS[key] = Metric(key, label, unit, " ".join(formula.split()), drill_down=drill_down, tags=tags, **kind)
        return METRICS[key]

    return register


def get(key: str) -> Metric:
    return METRICS[key]


def value(key: str, context: Context) -> Any:
    return METRICS[key].value(context)


def ratio(numerator: float, denominator: float, *, percent: bool = False, places: int = 1) -> float:
    """numerator / denominator rounded to `places`; 0.0 when the denominator is 0."""
    if not denominator:
        return 0.0
    return round(numerator / denominator * (100 if percent else 1), places)
