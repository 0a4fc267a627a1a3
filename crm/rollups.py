"""Hourly counters ("rollups") kept in the same transaction as the rows they count.

A *source* says how one raw row (a call, a status period, a conversation, ...) contributes to a
rollup table: a mapping ``{(hour, *key values): {counter: amount}}``. Every tracked write reads the
row's contribution from the database before and after the change, inside the write's transaction,
and adds the difference to the rollup table with one ``INSERT ... ON CONFLICT DO UPDATE SET
c = c + excluded.c`` — an atomic upsert, so two concurrent writers never lose an increment.

Hours are *local* hours of the organisation's time zone (settings.TIME_ZONE), stored as the UTC
instant they start at. A local day is a whole number of local hours (23 or 25 on DST days), so any
interval that starts and ends on hour boundaries is an exact sum of rollup rows. Reads add the
partial hours at the edges from raw rows, and open intervals (a break still running) up to "now".
Zones whose DST shift is not a whole hour (Lord Howe Island) are not supported.

This module is crm's (the lowest app) so calls/ can use the same machinery for its own counters;
it never imports another app's models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q, Sum
from django.utils import timezone

HOUR = timedelta(hours=1)
Row = Mapping[str, Any]
Key = tuple[Any, ...]  # (hour, *key values)
Contribution = dict[Key, dict[str, int]]


def hour_start(moment: datetime) -> datetime:
    """The start of the local hour containing `moment`, as a UTC datetime."""
    local = timezone.localtime(moment)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def hour_ceil(moment: datetime) -> datetime:
    start = hour_start(moment)
    return start if start == moment else start + HOUR


def microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def split_by_hour(start: datetime, end: datetime) -> Iterator[tuple[datetime, int]]:
    """(hour, microseconds of [start, end) inside that hour) for every hour the interval touches."""
    hour = hour_start(start)
    while hour < end:
        following = hour + HOUR  # UTC arithmetic: an absolute hour, right across DST changes
        inside = microseconds(min(end, following) - max(start, hour))
        if inside > 0:
            yield hour, inside
        hour = following


@dataclass(frozen=True)
class Window:
    """A half-open interval [start, end) that contributions are clipped to, and the clock."""

    start: datetime
    end: datetime


@dataclass
class Source:
    """How rows of `model` contribute to the rollup `table`.

    `columns` are the row values (lookups allowed, e.g. ``conversation__assigned_agent_id``) that
    `contribute` reads. Event sources count a row in the hour of `time_field`; interval sources
    (`end_field` set) spread durations over the hours they cover, and an open interval counts up to
    "now" at read time only (the stored counters hold closed intervals).
    """

    name: str
    model: type[models.Model]
    table: type[models.Model]
    keys: tuple[str, ...]  # key columns of `table` besides `hour`
    columns: tuple[str, ...]
    contribute: Callable[[Row, Window | None], Contribution]
    time_field: str
    end_field: str | None = None
    # how a scope filter on the table's key columns reads on the raw model ("a|b": either lookup)
    raw_keys: dict[str, str] = field(default_factory=dict)
    # rows of other sources whose contribution depends on this row's columns (e.g. a conversation's
    # agent keys its messages): (source name, lookup from that model to this one, columns that matter)
    dependents: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def counters(self) -> list[str]:
        return table_counters(self.table)

    def rows(self, queryset: models.QuerySet[Any]) -> Iterator[Row]:
        return queryset.values("pk", *self.columns).iterator(chunk_size=2000)

    def contribution_of(self, rows: Iterable[Row], window: Window | None = None) -> Contribution:
        total: Contribution = defaultdict(lambda: defaultdict(int))
        for row in rows:
            for key, counts in self.contribute(row, window).items():
                bucket = total[key]
                for name, amount in counts.items():
                    bucket[name] += amount
        return total


SOURCES: dict[str, Source] = {}
# called after the commit of any transaction that changed counters (analytics registers its cache bump)
on_counters_changed: list[Callable[[], None]] = []


def announce_change() -> None:
    """Run the hooks; scheduled after commit by every `add_to_rollup`."""
    for hook in on_counters_changed:
        hook()


def announce_change_on_commit() -> None:
    """For writes the dashboards show that are not counters (e.g. a sender's health)."""
    transaction.on_commit(announce_change)


_BY_MODEL: dict[type[models.Model], list[Source]] = defaultdict(list)


def register(source: Source) -> Source:
    if source.name not in SOURCES:
        SOURCES[source.name] = source
        _BY_MODEL[source.model].append(source)
    return source


def sources_for(model: type[models.Model]) -> list[Source]:
    return _BY_MODEL.get(model, [])


def sources_of(table: type[models.Model]) -> list[Source]:
    return [source for source in SOURCES.values() if source.table is table]


def table_keys(table: type[models.Model]) -> tuple[str, ...]:
    return tuple(
        f.column
        for f in table._meta.concrete_fields
        if not isinstance(f, models.BigIntegerField) and f.column not in ("id", "hour")
    )


def table_counters(table: type[models.Model]) -> list[str]:
    return [f.column for f in table._meta.concrete_fields if isinstance(f, models.BigIntegerField) and f.column != "id"]


# --- writing ------------------------------------------------------------------------------------------


def difference(before: Contribution, after: Contribution) -> Contribution:
    delta: Contribution = defaultdict(lambda: defaultdict(int))
    for sign, part in ((-1, before), (1, after)):
        for key, counts in part.items():
            for name, amount in counts.items():
                delta[key][name] += sign * amount
    return {key: {n: a for n, a in counts.items() if a} for key, counts in delta.items() if any(counts.values())}


def add_to_rollup(source: Source, delta: Contribution) -> None:
    """One atomic upsert adding `delta` to the rollup table (a no-op for an empty delta)."""
    if not delta:
        return
    # not deduplicated per transaction: a callback registered in a savepoint that rolls back is dropped
    transaction.on_commit(announce_change)
    table = source.table._meta.db_table
    quote = connection.ops.quote_name
    names = sorted({name for counts in delta.values() for name in counts})
    key_columns = ["hour", *source.keys]
    columns = [*key_columns, *names]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    adapt = connection.ops.adapt_datetimefield_value
    for key, counts in delta.items():
        params.append(adapt(key[0]))
        params.extend(key[1:])
        params.extend(counts.get(name, 0) for name in names)
    # identifiers come from model metadata (quoted); values are parameters
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(delta))} "
        f"ON CONFLICT ({', '.join(quote(c) for c in key_columns)}) DO UPDATE SET "
        + ", ".join(f"{quote(n)} = {quote(table)}.{quote(n)} + excluded.{quote(n)}" for n in names)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _rows_by_pk(source: Source, pks: Collection[Any] | Q, *, lock: bool) -> dict[Any, Row]:
    queryset = source.model._default_manager.filter(pks if isinstance(pks, Q) else Q(pk__in=list(pks)))
    if lock and connection.features.has_select_for_update:
        queryset = (
            queryset.select_for_update(of=("self",)) if connection.features.has_select_for_update_of else queryset
        )
    return {row["pk"]: row for row in source.rows(queryset)}


@contextmanager
def tracking(model: type[models.Model], rows: Collection[Any] | Q, *, instance: Any = None) -> Iterator[None]:
    """Keep the rollups right across a write to rows of `model` (given by pks or a filter).

    Reads the rows' contributions before (locking them) and after the block, in the same
    transaction, and upserts the difference. Rows created in the block are found by a filter, or
    by pks listed in `rows` before the block ends (a list may be appended to inside the block).
    """
    sources = sources_for(model)
    if not sources:
        yield
        return
    with transaction.atomic():
        before = {s.name: _rows_by_pk(s, rows, lock=True) for s in sources}
        dependents = _dependent_rows(model, sources, rows, instance, before)
        yield
        for source in sources:
            after = _rows_by_pk(source, rows, lock=False)
            add_to_rollup(
                source,
                difference(
                    source.contribution_of(before[source.name].values()), source.contribution_of(after.values())
                ),
            )
        for dependent, lookup, dep_before in dependents:
            after = _rows_by_pk(dependent, lookup, lock=False)
            add_to_rollup(
                dependent,
                difference(dependent.contribution_of(dep_before.values()), dependent.contribution_of(after.values())),
            )


def _dependent_rows(
    model: type[models.Model],
    sources: list[Source],
    rows: Collection[Any] | Q,
    instance: Any,
    before: dict[str, dict[Any, Row]],
) -> list[tuple[Source, Q, dict[Any, Row]]]:
    found = []
    for source in sources:
        for name, lookup, columns in source.dependents:
            dependent = SOURCES[name]
            if instance is not None:
                # a save: the dependents only move when one of the columns they read changes
                old = before[source.name].get(instance.pk)
                if old is None or all(old[c] == getattr(instance, c) for c in columns):
                    continue
            if isinstance(rows, Q):
                pks = list(model._default_manager.filter(rows).values_list("pk", flat=True))
            else:
                pks = list(rows)
            if not pks:
                continue
            q = Q(**{f"{lookup}__in": pks})
            found.append((dependent, q, _rows_by_pk(dependent, q, lock=True)))
    return found


def count_created(model: type[models.Model], objs: Iterable[models.Model]) -> None:
    """Add rows just written by `bulk_create` (their pks set) to the rollups, in the caller's transaction."""
    pks = [obj.pk for obj in objs]
    for source in sources_for(model):
        add_to_rollup(source, difference({}, source.contribution_of(_rows_by_pk(source, pks, lock=False).values())))


class TrackedModel(models.Model):
    """A model whose saves keep its rollups right (see `tracking`); deletes (of an instance or a
    queryset) are handled by a post_delete receiver calling `subtract_deleted`.

    Queryset `.update()`, `bulk_create` and `bulk_update` bypass this: wrap them in `tracking`.
    """

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not sources_for(type(self)):
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            pks: list[Any] = [self.pk] if self.pk is not None and not self._state.adding else []
            with tracking(type(self), pks, instance=self):
                super().save(*args, **kwargs)
                if not pks:
                    pks.append(self.pk)


def subtract_deleted(instance: models.Model) -> None:
    """For queryset deletes (post_delete): the row is gone, take its contribution away."""
    for source in sources_for(type(instance)):
        row = {"pk": instance.pk}
        for column in source.columns:
            row[column] = _value_of(instance, column)
        add_to_rollup(source, difference(source.contribution_of([row]), {}))


def _value_of(instance: models.Model, lookup: str) -> Any:
    value: Any = instance
    for part in lookup.split("__"):
        if value is None:
            return None
        value = getattr(value, part)
    return value


# --- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which rows a reader may count: all (agent_ids None), or those of the given agents plus the
    unassigned rows (key agent_id = 0) of the given campaigns."""

    agent_ids: frozenset[int] | None = None
    campaign_ids: frozenset[int] = frozenset()

    def table_q(self, source: Source) -> Q:
        if self.agent_ids is None:
            return Q()
        q = Q(agent_id__in=self.agent_ids)
        if "campaign_id" in source.keys and self.campaign_ids:
            q |= Q(agent_id=0, campaign_id__in=self.campaign_ids)
        return q

    def raw_q(self, source: Source) -> Q:
        if self.agent_ids is None:
            return Q()
        agent = source.raw_keys.get("agent_id", "agent_id")
        q = Q(**{f"{agent}__in": self.agent_ids})
        if "campaign_id" in source.keys and self.campaign_ids:
            campaigns = source.raw_keys.get("campaign_id", "campaign_id")
            for campaign in campaigns.split("|"):
                q |= Q(**{f"{agent}__isnull": True, f"{campaign}__in": self.campaign_ids})
        return q


EVERYONE = Scope()


def totals(
    table: type[models.Model],
    start: datetime,
    end: datetime,
    *,
    scope: Scope = EVERYONE,
    group_by: tuple[str, ...] = (),
    now: datetime | None = None,
) -> dict[Key, dict[str, int]]:
    """The counters of a rollup table over [start, end), grouped by key columns (``"hour"`` among them).

    Whole hours come from the rollup table (one query); the partial hours at either edge and the
    open intervals come from the raw rows of each source (bounded: at most two partial hours of
    events, plus the open intervals — at most one per agent and source). Intervals are clipped to
    [start, min(end, now)).
    """
    # UTC: Python compares datetimes of one tzinfo by wall clock (wrong inside a repeated DST hour)
    now, start, end = (now or timezone.now()).astimezone(UTC), start.astimezone(UTC), end.astimezone(UTC)
    result: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if end <= start:
        return result
    first_full, last_full = hour_ceil(start), hour_start(end)
    counters = table_counters(table)
    sources = sources_of(table)
    if first_full < last_full:
        probe = sources[0]
        stored = table._default_manager.filter(scope.table_q(probe), hour__gte=first_full, hour__lt=last_full)
        sums = {f"_{c}": Sum(c) for c in counters}
        # without grouping, aggregate(): `.values()` with no fields would group by every column
        rows = stored.values(*group_by).annotate(**sums).order_by() if group_by else [stored.aggregate(**sums)]
        for row in rows:
            bucket = result[tuple(row[g] for g in group_by)]
            for c in counters:
                bucket[c] += row[f"_{c}"] or 0
        edges = [(start, first_full), (last_full, end)]
    else:
        edges = [(start, end)]
    key_index = {name: i for i, name in enumerate(("hour", *table_keys(table)))}
    for source in sources:
        raw = source.model._default_manager.filter(scope.raw_q(source))
        parts: list[Contribution] = []
        for lo, hi in edges:
            if source.end_field:
                hi = min(hi, now)
            if lo >= hi:
                continue
            if source.end_field:
                overlapping = raw.filter(
                    Q(**{f"{source.end_field}__isnull": True}) | Q(**{f"{source.end_field}__gt": lo}),
                    **{f"{source.time_field}__lt": hi},
                )
                parts.append(source.contribution_of(_closed_at(source.rows(overlapping), source, now), Window(lo, hi)))
            else:
                events = raw.filter(**{f"{source.time_field}__gte": lo, f"{source.time_field}__lt": hi})
                parts.append(source.contribution_of(source.rows(events)))
        if source.end_field and first_full < min(last_full, now):
            # open intervals inside the whole hours (the stored counters only hold closed ones)
            running = raw.filter(**{f"{source.end_field}__isnull": True, f"{source.time_field}__lt": last_full})
            window = Window(first_full, min(last_full, now))
            parts.append(source.contribution_of(_closed_at(source.rows(running), source, now), window))
        for part in parts:
            for key, counts in part.items():
                bucket = result[tuple(key[key_index[g]] for g in group_by)]
                for name, amount in counts.items():
                    bucket[name] += amount
    return result


def _closed_at(rows: Iterable[Row], source: Source, now: datetime) -> Iterator[Row]:
    end_field = source.end_field or ""
    for row in rows:
        if row[end_field] is None:
            row = {**row, end_field: now}
        yield row


def total(table: type[models.Model], start: datetime, end: datetime, **kwargs: Any) -> dict[str, int]:
    """`totals` without grouping: one dict of every counter (zeros included)."""
    found = totals(table, start, end, **kwargs).get((), {})
    return {c: int(found.get(c, 0)) for c in table_counters(table)}


def clip(window: Window | None, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if window is None:
        return start, end
    return max(start, window.start), min(end, window.end)


def in_window(window: Window | None, moment: datetime) -> bool:
    return window is None or window.start <= moment < window.end


# --- rebuilding and reconciling -----------------------------------------------------------------------


def rebuild(
    table: type[models.Model], since: datetime | None = None, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute a rollup table from raw rows (all hours, or the hours from `since` on); returns the
    number of (key, hour) contributions written.

    Intervals that started before `since` but reach into it are included (clipped), so the rebuilt
    hours are exact. Runs in one transaction: readers see the old counters until it commits.
    """
    since_hour = hour_start(since) if since else None
    window = Window(since_hour, datetime.max.replace(tzinfo=UTC)) if since_hour else None
    written = 0
    with transaction.atomic():
        rows = table._default_manager.all()
        (rows.filter(hour__gte=since_hour) if since_hour else rows).delete()
        for source in sources_of(table):
            raw = source.model._default_manager.all()
            if source.end_field:
                raw = raw.filter(**{f"{source.end_field}__isnull": False})
                if since_hour:
                    raw = raw.filter(**{f"{source.end_field}__gt": since_hour})
            elif since_hour:
                raw = raw.filter(**{f"{source.time_field}__gte": since_hour})
            batch: list[Row] = []
            for row in source.rows(raw.order_by()):
                batch.append(row)
                if len(batch) >= 5000:
                    written += _write_batch(source, batch, window)
                    if progress:
                        progress(len(batch))
                    batch = []
            if batch:
                written += _write_batch(source, batch, window)
                if progress:
                    progress(len(batch))
    return written


def raw_row_count(table: type[models.Model], since: datetime | None = None) -> int:
    """How many raw rows `rebuild` reads (for its progress bar)."""
    count = 0
    for source in sources_of(table):
        raw = source.model._default_manager.all()
        if source.end_field:
            raw = raw.filter(**{f"{source.end_field}__isnull": False})
            if since:
                raw = raw.filter(**{f"{source.end_field}__gt": hour_start(since)})
        elif since:
            raw = raw.filter(**{f"{source.time_field}__gte": hour_start(since)})
        count += raw.count()
    return count


def _write_batch(source: Source, rows: list[Row], window: Window | None) -> int:
    delta = difference({}, source.contribution_of(rows, window))
    items = list(delta.items())
    for start in range(0, len(items), 500):
        add_to_rollup(source, dict(items[start : start + 500]))
    return len(items)


@dataclass
class Drift:
    table: str
    key: Key
    stored: dict[str, int]
    expected: dict[str, int]

    def __str__(self) -> str:
        changed = {
            c: (self.stored.get(c, 0), self.expected.get(c, 0))
            for c in sorted(set(self.stored) | set(self.expected))
            if self.stored.get(c, 0) != self.expected.get(c, 0)
        }
        detail = ", ".join(f"{c} stored {a} expected {b}" for c, (a, b) in changed.items())
        return f"{self.table} {self.key[0].isoformat()} {self.key[1:]}: {detail}"


def compare(table: type[models.Model], start: datetime, end: datetime) -> list[Drift]:
    """Rollup rows of the whole hours in [start, end) against a recomputation from raw rows."""
    start, end = hour_ceil(start), hour_start(end)
    if start >= end:
        return []
    window = Window(start, end)
    keys = table_keys(table)
    expected: Contribution = {}
    for source in sources_of(table):
        raw = source.model._default_manager.all()
        if source.end_field:
            raw = raw.filter(**{f"{source.end_field}__isnull": False, f"{source.end_field}__gt": start})
            raw = raw.filter(**{f"{source.time_field}__lt": end})
        else:
            raw = raw.filter(**{f"{source.time_field}__gte": start, f"{source.time_field}__lt": end})
        for key, counts in difference({}, source.contribution_of(source.rows(raw), window)).items():
            into = expected.setdefault(key, {})
            for name, amount in counts.items():
                into[name] = into.get(name, 0) + amount
    counters = table_counters(table)
    stored: dict[Key, dict[str, int]] = {}
    for row in table._default_manager.filter(hour__gte=start, hour__lt=end).values("hour", *keys, *counters):
        counts = {c: row[c] for c in counters if row[c]}
        if counts:
            stored[(row["hour"], *(row[k] for k in keys))] = counts
    drift = []
    for key in sorted(set(stored) | set(expected), key=str):
        have = stored.get(key, {})
        want = {n: a for n, a in expected.get(key, {}).items() if a}
        if have != want:
            drift.append(Drift(table._meta.label, key, have, want))
    return drift
