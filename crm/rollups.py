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

import bisect
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

HOUR = timedelta(hours=1)
Row = Mapping[str, Any]
Key = tuple[Any, ...]  # (hour, *key values)
Contribution = dict[Key, dict[str, int]]


# Buckets are always the organisation's hours and days (settings.TIME_ZONE), never the zone a caller
# activated: a report read for another zone (timezone.override) must find the stored rows where they are;
# its period's edges that fall inside an organisation hour are read from the raw rows like any edge.


def hour_start(moment: datetime) -> datetime:
    """The start of the organisation's local hour containing `moment`, as a UTC datetime."""
    local = timezone.localtime(moment, timezone.get_default_timezone())
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def hour_ceil(moment: datetime) -> datetime:
    start = hour_start(moment)
    return start if start == moment else start + HOUR


def _org_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone()).astimezone(UTC)


def day_start(moment: datetime) -> datetime:
    """The organisation's local midnight starting the day of `moment`, as a UTC datetime."""
    return _org_midnight(timezone.localtime(moment, timezone.get_default_timezone()).date())


def day_ceil(moment: datetime) -> datetime:
    start = day_start(moment)
    if start == moment:
        return start
    return _org_midnight(timezone.localtime(moment, timezone.get_default_timezone()).date() + timedelta(days=1))


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
    # event sources whose rows also count at other moments (a conversation's resolution hour): the
    # contribution gates each key by its own moment, reads find rows by any of these fields
    other_time_fields: tuple[str, ...] = ()
    # how a scope filter on the table's key columns reads on the raw model ("a|b": either lookup)
    raw_keys: dict[str, str] = field(default_factory=dict)
    # the counters this source writes (prefixes allowed, e.g. "out_"); reads asking for other counters skip it
    produces: tuple[str, ...] = ()
    # rows of other sources whose contribution depends on this row's columns (e.g. a conversation's
    # agent keys its messages): (source name, lookup from that model to this one, columns that matter)
    dependents: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # the rows that can contribute anything (e.g. not offline periods): reads skip the others
    relevant: Q | None = None

    @property
    def counters(self) -> list[str]:
        return table_counters(self.table)

    def rows(self, queryset: models.QuerySet[Any], *, stream: bool = False) -> Iterable[Row]:
        values = queryset.order_by().values("pk", *self.columns)
        # small reads in one round trip; a server-side cursor (PostgreSQL) only for rebuilds
        return values.iterator(chunk_size=5000) if stream else list(values)

    def within(self, start: datetime, end: datetime) -> Q:
        """Raw rows contributing something to [start, end) (closed or open intervals alike)."""
        if self.end_field:
            if connection.vendor == "postgresql":
                return Q(self._overlaps(start, end))
            # two index-friendly branches (ended_at is indexed, NULL included)
            closed = Q(**{f"{self.end_field}__gt": start, f"{self.time_field}__lt": end})
            return Q(**{f"{self.end_field}__isnull": True, f"{self.time_field}__lt": end}) | closed
        q = Q()
        for name in (self.time_field, *self.other_time_fields):
            q |= Q(**{f"{name}__gte": start, f"{name}__lt": end})
        return q

    def _overlaps(self, start: datetime, end: datetime) -> RawSQL:
        """PostgreSQL: `tstzrange(time_field, end_field) && [start, end)`, which the GiST index of that
        expression answers directly (an open interval's range has no upper bound). A btree on the end
        column alone reads every interval ending after `start`: a month of them for last month's edge."""
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        column = {f.name: f.column for f in self.model._meta.concrete_fields}
        interval = f"tstzrange({table}.{quote(column[self.time_field])}, {table}.{quote(column[self.end_field or ''])})"
        # identifiers are the model's own quoted names; the bounds are parameters
        return RawSQL(f"{interval} && tstzrange(%s, %s)", (start, end), output_field=models.BooleanField())  # noqa: S611

    def since(self, start: datetime) -> Q:
        """Closed intervals reaching past `start`, or events at or after it (for rebuilds)."""
        if self.end_field:
            return Q(**{f"{self.end_field}__isnull": False, f"{self.end_field}__gt": start})
        q = Q()
        for name in (self.time_field, *self.other_time_fields):
            q |= Q(**{f"{name}__gte": start})
        return q

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


# hour table → its daily companion (same key and counter columns, `day` instead of `hour`): whole
# local days are read from it, so a month costs one row per key and day instead of per hour
DAY_TABLES: dict[type[models.Model], type[models.Model]] = {}
# hour table → its organisation-wide daily companion (the key columns without agent_id): what an
# admin's month reads, a few rows per day instead of one per agent
ORG_DAY_TABLES: dict[type[models.Model], type[models.Model]] = {}


# hour table → its organisation-wide hourly companion (again without agent_id): what an admin's hourly
# series over a long period reads, one row per campaign and hour instead of per agent and campaign
ORG_HOUR_TABLES: dict[type[models.Model], type[models.Model]] = {}


# hour table → its per-agent daily companion (agent_id the only key): what per-agent reads of a long period
# sum when no campaign filter applies, one row per agent and day instead of per agent, campaign and day
AGENT_DAY_TABLES: dict[type[models.Model], type[models.Model]] = {}


def register_day_table(
    hour_table: type[models.Model],
    day_table: type[models.Model],
    org_day_table: type[models.Model] | None = None,
    *,
    org_hour_table: type[models.Model] | None = None,
    agent_day_table: type[models.Model] | None = None,
) -> None:
    DAY_TABLES[hour_table] = day_table
    if org_day_table is not None:
        ORG_DAY_TABLES[hour_table] = org_day_table
    if org_hour_table is not None:
        ORG_HOUR_TABLES[hour_table] = org_hour_table
    if agent_day_table is not None:
        AGENT_DAY_TABLES[hour_table] = agent_day_table


def levels(table: type[models.Model]) -> list[tuple[type[models.Model], str]]:
    """The tables that hold `table`'s counters, with their bucket column: the hour table first."""
    found = [(table, "hour")]
    if table in DAY_TABLES:
        found.append((DAY_TABLES[table], "day"))
    found += [(model, bucket) for model, bucket, _ in summary_levels(table)]
    return found


def summary_levels(table: type[models.Model]) -> list[tuple[type[models.Model], str, tuple[str, ...]]]:
    """The companions of `table` that sum its rows over some key columns: (model, bucket, key columns
    kept). Each is written, checked and rebuilt by projecting the finer rows' keys."""
    keys = sources_of(table)[0].keys
    found = []
    for tables, bucket, kept in (
        (ORG_HOUR_TABLES, "hour", without_agent(keys)),
        (ORG_DAY_TABLES, "day", without_agent(keys)),
        (AGENT_DAY_TABLES, "day", ("agent_id",)),
    ):
        if table in tables:
            found.append((tables[table], bucket, kept))
    return found


def without_agent(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in keys if k != "agent_id")


def project(delta: Contribution, keys: tuple[str, ...], kept: tuple[str, ...]) -> Contribution:
    """Bucket-keyed counters summed over the key columns not in `kept` (e.g. the organisation level)."""
    positions = [1 + keys.index(k) for k in kept]
    merged: Contribution = defaultdict(lambda: defaultdict(int))
    for key, counts in delta.items():
        bucket = merged[(key[0], *(key[p] for p in positions))]
        for name, amount in counts.items():
            bucket[name] += amount
    return merged


def table_keys(table: type[models.Model]) -> tuple[str, ...]:
    return tuple(
        f.column
        for f in table._meta.concrete_fields
        if not isinstance(f, models.BigIntegerField) and f.column not in ("id", "hour", "day")
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


def by_day(delta: Contribution) -> Contribution:
    """Hour-keyed counters re-keyed by the local day of each hour."""
    days: Contribution = defaultdict(lambda: defaultdict(int))
    starts: dict[datetime, datetime] = {}
    for (hour, *rest), counts in delta.items():
        day = starts.get(hour)
        if day is None:
            day = starts[hour] = day_start(hour)
        bucket = days[(day, *rest)]
        for name, amount in counts.items():
            bucket[name] += amount
    return days


def add_to_rollup(source: Source, delta: Contribution, *, days: bool = True) -> None:
    """Add hour-keyed `delta` to the hour table and (unless `days` is False) to its day table: one
    atomic upsert each. A no-op for an empty delta."""
    if not delta:
        return
    # not deduplicated per transaction: a callback registered in a savepoint that rolls back is dropped
    transaction.on_commit(announce_change)
    _upsert(source.table, "hour", source.keys, delta)
    day_table = DAY_TABLES.get(source.table)
    daily = by_day(delta) if days and day_table is not None else None
    if day_table is not None and daily is not None:
        _upsert(day_table, "day", source.keys, daily)
    for model, bucket, kept in summary_levels(source.table):
        if bucket == "hour":
            _upsert(model, bucket, kept, project(delta, source.keys, kept))
        elif daily is not None:
            _upsert(model, bucket, kept, project(daily, source.keys, kept))


def _upsert(model: type[models.Model], bucket: str, keys: tuple[str, ...], delta: Contribution) -> None:
    table = model._meta.db_table
    quote = connection.ops.quote_name
    names = sorted({name for counts in delta.values() for name in counts})
    key_columns = [bucket, *keys]
    columns = [*key_columns, *names]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    adapt = connection.ops.adapt_datetimefield_value
    for key, counts in sorted(delta.items(), key=lambda item: (item[0][0], *map(str, item[0][1:]))):
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

    def table_sql(self, source: Source) -> tuple[str, list[int]]:
        """`table_q` as SQL for the stored-rows query ("" for everyone)."""
        if self.agent_ids is None:
            return "", []
        quote = connection.ops.quote_name
        agents = sorted(self.agent_ids)
        sql = f"{quote('agent_id')} IN ({', '.join(['%s'] * len(agents))})" if agents else "1 = 0"
        params: list[int] = list(agents)
        if "campaign_id" in source.keys and self.campaign_ids:
            campaigns = sorted(self.campaign_ids)
            sql += f" OR ({quote('agent_id')} = 0 AND {quote('campaign_id')} IN ({', '.join(['%s'] * len(campaigns))}))"
            params += campaigns
        return sql, params

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
    fields: Collection[str] | None = None,
    now: datetime | None = None,
) -> dict[Key, dict[str, int]]:
    """The counters of a rollup table over [start, end), grouped by key columns, ``"hour"`` or
    ``"day"`` (the local day, as its UTC midnight instant); `fields` limits the counters summed.

    Whole local days come from the day table (unless grouped by hour), the remaining whole hours
    from the hour table (one query each); the partial hours at either edge and the still-open
    intervals come from the raw rows (one query per source, bounded: two partial hours of events, and
    at most one open interval per agent and source). Intervals are clipped to [start, min(end, now)).
    """
    return totals_many(table, [(start, end)], scope=scope, group_by=group_by, fields=fields, now=now)[0]


@dataclass
class _Plan:
    """Where the counters of one [start, end) come from."""

    days: list[tuple[datetime, datetime]] = field(default_factory=list)
    hours: list[tuple[datetime, datetime]] = field(default_factory=list)
    edges: list[tuple[datetime, datetime]] = field(default_factory=list)
    stored: Window | None = None  # the stored hours, where open intervals are added from raw rows


def _plan(start: datetime, end: datetime, now: datetime, *, days_allowed: bool) -> _Plan:
    first_hour, last_hour = hour_ceil(start), hour_start(end)
    if first_hour >= last_hour:
        return _Plan(edges=[(start, end)])
    plan = _Plan(hours=[(first_hour, last_hour)], edges=[(start, first_hour), (last_hour, end)])
    plan.stored = Window(first_hour, min(last_hour, now))
    if days_allowed:
        first_day, last_day = day_ceil(first_hour), day_start(last_hour)
        if first_day < last_day:
            plan.hours = [(first_hour, first_day), (last_day, last_hour)]
            plan.days = [(first_day, last_day)]
    plan.hours = [(lo, hi) for lo, hi in plan.hours if lo < hi]
    return plan


def totals_many(
    table: type[models.Model],
    ranges: Collection[tuple[datetime, datetime]],
    *,
    scope: Scope = EVERYONE,
    group_by: tuple[str, ...] = (),
    fields: Collection[str] | None = None,
    now: datetime | None = None,
) -> list[dict[Key, dict[str, int]]]:
    """`totals` of several [start, end) ranges (a period and the one it is compared with, or
    overlapping ones) at the cost of one: one query per stored level and one per raw source in all."""
    # UTC: Python compares datetimes of one tzinfo by wall clock (wrong inside a repeated DST hour)
    now = (now or timezone.now()).astimezone(UTC)
    spans = [(start.astimezone(UTC), end.astimezone(UTC)) for start, end in ranges]
    results: list[dict[Key, dict[str, int]]] = [defaultdict(lambda: defaultdict(int)) for _ in spans]
    counters = [c for c in table_counters(table) if fields is None or c in fields]
    sources = sources_of(table)
    positions = {name: i for i, name in enumerate(("hour", *sources[0].keys))}
    days = _day_of()

    def key_of(values: Mapping[str, Any], bucket: str) -> Key:
        # `values` holds the bucket under its own name ("hour" or "day") and the key columns
        return tuple(
            (values[bucket] if bucket == "day" else days(values["hour"])) if g == "day" else values[g] for g in group_by
        )

    day_table = DAY_TABLES.get(table) if "hour" not in group_by else None
    hour_table = table
    if scope.agent_ids is None and "agent_id" not in group_by:  # everyone's numbers: the organisation's rows
        if day_table is not None:
            day_table = ORG_DAY_TABLES.get(table, day_table)
        hour_table = ORG_HOUR_TABLES.get(table, table)
    elif day_table is not None and not scope.campaign_ids and set(group_by) <= {"agent_id", "day"}:
        day_table = AGENT_DAY_TABLES.get(table, day_table)  # per agent, with no campaign filter or grouping
    plans = [
        _plan(start, end, now, days_allowed=day_table is not None) if start < end else _Plan() for start, end in spans
    ]
    stored = _Stored(results, scope, sources, group_by, counters, key_of)
    if day_table is not None:
        stored.add(day_table, "day", [(n, lo, hi) for n, plan in enumerate(plans) for lo, hi in plan.days])
    stored.add(hour_table, "hour", [(n, lo, hi) for n, plan in enumerate(plans) for lo, hi in plan.hours])

    wanted_counters = set(counters)
    for source in sources:
        if fields is not None and source.produces and not any(c.startswith(source.produces) for c in wanted_counters):
            continue
        windows = [
            (n, Window(lo, min(hi, now) if source.end_field else hi))
            for n, plan in enumerate(plans)
            for lo, hi in plan.edges
        ]
        windows = [(n, w) for n, w in windows if w.start < w.end]
        # open intervals inside the stored hours (the stored counters only hold closed ones)
        open_windows = []
        if source.end_field:
            open_windows = [(n, p.stored) for n, p in enumerate(plans) if p.stored and p.stored.start < p.stored.end]
        if not windows and not open_windows:
            continue
        wanted = Q(pk__in=[])
        for _, window in windows:
            wanted |= source.within(window.start, window.end)
        if open_windows:
            wanted |= Q(**{f"{source.end_field}__isnull": True})
        raw = source.model._default_manager.filter(scope.raw_q(source)).filter(wanted)
        rows = source.rows(raw.filter(source.relevant) if source.relevant is not None else raw)
        if not rows:
            continue
        parts = [(n, source.contribution_of(_closed_at(rows, source, now), window)) for n, window in windows]
        if open_windows:
            assert source.end_field  # noqa: S101 (narrowing for mypy)
            running = [row for row in rows if row[source.end_field] is None]
            parts += [(n, source.contribution_of(_closed_at(running, source, now), w)) for n, w in open_windows]
        for n, part in parts:
            for key, counts in part.items():
                bucket = results[n][key_of({name: key[i] for name, i in positions.items()}, "hour")]
                for name, amount in counts.items():
                    if name in wanted_counters:
                        bucket[name] += amount
    return results


def _day_of() -> Callable[[datetime], datetime]:
    """day_start with a cache (grouped reads map hundreds of hours to a few days)."""
    seen: dict[datetime, datetime] = {}

    def day_of(hour: datetime) -> datetime:
        found = seen.get(hour)
        if found is None:
            found = seen[hour] = day_start(hour)
        return found

    return day_of


@dataclass
class _Stored:
    """Sums stored rollup rows into the results of `totals_many`, one query per table."""

    results: list[dict[Key, dict[str, int]]]
    scope: Scope
    sources: list[Source]
    group_by: tuple[str, ...]
    counters: list[str]
    key_of: Callable[[Mapping[str, Any], str], Key]

    def add(self, model: type[models.Model], bucket: str, ranges: list[tuple[int, datetime, datetime]]) -> None:
        """Sum the rows of `model` whose `bucket` lies in each (result index, lo, hi) into that result,
        with one query.

        The ranges are cut at every boundary into disjoint segments; unless rows are grouped by bucket
        anyway, the database sums each segment (a CASE column) and Python only adds each segment's
        sums to the results whose ranges cover it. Plain SQL: the ORM spends milliseconds compiling
        forty SUM() expressions, more than the query.
        """
        if not ranges:
            return
        quote = connection.ops.quote_name
        adapt = connection.ops.adapt_datetimefield_value
        bounds = sorted({moment for _, lo, hi in ranges for moment in (lo, hi)})
        segments, owners = [], []
        for lo, hi in itertools.pairwise(bounds):
            covering = [n for n, start, end in ranges if start <= lo and hi <= end]
            if covering:
                segments.append((lo, hi))
                owners.append(covering)
        columns = [bucket if g in ("hour", "day") else g for g in self.group_by]
        by_segment = bucket not in columns and any(o != owners[0] for o in owners)
        selected = [quote(c) for c in columns]
        params: list[Any] = []
        if by_segment:
            cases = " ".join(
                f"WHEN {quote(bucket)} >= %s AND {quote(bucket)} < %s THEN {i}" for i in range(len(segments))
            )
            selected.append(f"CASE {cases} END")
            params += [adapt(moment) for lo, hi in segments for moment in (lo, hi)]
        selected += [f"SUM({quote(c)})" for c in self.counters]
        when = " OR ".join(f"({quote(bucket)} >= %s AND {quote(bucket)} < %s)" for _ in ranges)
        params += [adapt(moment) for _, lo, hi in ranges for moment in (lo, hi)]
        sql = f"SELECT {', '.join(selected)} FROM {quote(model._meta.db_table)} WHERE ({when})"  # noqa: S608
        scope_sql, scope_params = self.scope.table_sql(self.sources[0])
        if scope_sql:
            sql += f" AND ({scope_sql})"
            params += scope_params
        grouped = len(columns) + by_segment
        if grouped:
            sql += f" GROUP BY {', '.join(str(i) for i in range(1, grouped + 1))}"
        convert = getattr(connection.ops, "convert_datetimefield_value", None)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        starts = [lo for lo, _ in segments]
        for row in fetched:
            values: dict[str, Any] = dict(zip(columns, row[: len(columns)], strict=True))
            if bucket in values and convert is not None:  # SQLite hands back text
                values[bucket] = convert(values[bucket], None, connection)
            if by_segment:
                segment = row[len(columns)]
            elif bucket in values:
                segment = bisect.bisect_right(starts, values[bucket]) - 1
            else:
                segment = 0  # every segment has the same owners
            key = self.key_of(values, bucket)
            amounts = [(c, int(amount)) for c, amount in zip(self.counters, row[grouped:], strict=True) if amount]
            for n in owners[segment]:
                into = self.results[n][key]
                for c, amount in amounts:
                    into[c] += amount


def _closed_at(rows: Iterable[Row], source: Source, now: datetime) -> Iterable[Row]:
    """Open intervals as if they ended `now` (event rows unchanged)."""
    end_field = source.end_field
    if not end_field:
        return rows
    return ({**row, end_field: now} if row[end_field] is None else row for row in rows)


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
    """Recompute a rollup table (and its day table) from raw rows: all of it, or from the local day
    of `since` on; returns the number of (key, hour) cells written.

    Intervals that started before that day but reach into it are included (clipped), so the rebuilt
    hours are exact. Runs in one transaction: readers see the old counters until it commits.
    """
    since_day = day_start(since) if since else None
    window = Window(since_day, datetime.max.replace(tzinfo=UTC)) if since_day else None
    written = 0
    with transaction.atomic():
        for model, bucket in levels(table):
            rows = model._default_manager.all()
            (rows.filter(**{f"{bucket}__gte": since_day}) if since_day else rows).delete()
        for source in sources_of(table):
            batch: list[Row] = []
            for row in source.rows(_rebuild_rows(source, since_day).order_by(), stream=True):
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


def _rebuild_rows(source: Source, since: datetime | None) -> models.QuerySet[Any]:
    raw = source.model._default_manager.all()
    if since is not None:
        return raw.filter(source.since(since))
    if source.end_field:
        return raw.filter(**{f"{source.end_field}__isnull": False})
    return raw


def raw_row_count(table: type[models.Model], since: datetime | None = None) -> int:
    """How many raw rows `rebuild` reads (for its progress bar)."""
    since_day = day_start(since) if since else None
    return sum(_rebuild_rows(source, since_day).count() for source in sources_of(table))


def _write_batch(source: Source, rows: list[Row], window: Window | None) -> int:
    delta = difference({}, source.contribution_of(rows, window))
    items = list(delta.items())
    for start in range(0, len(items), 500):
        add_to_rollup(source, dict(items[start : start + 500]))
    return len(items)


def resync_days(table: type[models.Model], days: Iterable[datetime], keys: Mapping[str, Any]) -> None:
    """Set the day-table rows of `keys` (e.g. {"agent_id": 7}) for the given local days to the sum of
    their hour rows — after a repair of hour cells (see analytics' update-after-call)."""
    day_table = DAY_TABLES.get(table)
    if day_table is None:
        return
    counters = table_counters(table)
    with transaction.atomic():
        for day in {day_start(d) for d in days}:
            following = day_ceil(day + timedelta(seconds=1))
            sums = table._default_manager.filter(hour__gte=day, hour__lt=following, **keys).aggregate(
                **{c: Sum(c) for c in counters}
            )
            values = {c: int(sums[c] or 0) for c in counters}
            row = day_table._default_manager.select_for_update().filter(day=day, **keys)
            if not row.update(**values):
                day_table._default_manager.create(day=day, **keys, **values)
            for model, bucket, kept in summary_levels(table):
                if bucket != "day":
                    continue  # hour-level summaries took the repair's delta with the hour table
                model._default_manager.filter(day=day).delete()
                groups = day_table._default_manager.filter(day=day).values(*kept).order_by()
                for group in groups.annotate(**{f"_{c}": Sum(c) for c in counters}):
                    totals_of = {c: int(group[f"_{c}"] or 0) for c in counters}
                    model._default_manager.create(day=day, **{k: group[k] for k in kept}, **totals_of)


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


def recompute(table: type[models.Model], start: datetime, end: datetime, scope: Scope = EVERYONE) -> Contribution:
    """What the stored hour rows of [start, end) (whole hours) should hold, from the raw rows:
    events in the window, closed intervals clipped to it."""
    window = Window(start, end)
    expected: Contribution = defaultdict(lambda: defaultdict(int))
    for source in sources_of(table):
        raw = source.model._default_manager.filter(scope.raw_q(source), source.within(start, end))
        if source.end_field:
            raw = raw.filter(**{f"{source.end_field}__isnull": False})
        for key, counts in source.contribution_of(source.rows(raw, stream=True), window).items():
            for name, amount in counts.items():
                expected[key][name] += amount
    return expected


def compare(table: type[models.Model], start: datetime, end: datetime) -> list[Drift]:
    """Rollup rows of the whole hours in [start, end) — and of its whole local days in the day
    table — against a recomputation from raw rows."""
    start, end = hour_ceil(start), hour_start(end)
    if start >= end:
        return []
    expected = recompute(table, start, end)
    keys = sources_of(table)[0].keys
    in_hours = Q(hour__gte=start, hour__lt=end)
    drift = _compare_level(table, "hour", keys, in_hours, expected)
    day_table = DAY_TABLES.get(table)
    first_day, last_day = day_ceil(start), day_start(end)
    in_days = by_day({key: counts for key, counts in expected.items() if first_day <= key[0] < last_day})
    whole_days = Q(day__gte=first_day, day__lt=last_day)
    if day_table is not None and first_day < last_day:
        drift += _compare_level(day_table, "day", keys, whole_days, in_days)
    for model, bucket, kept in summary_levels(table):
        if bucket == "hour":
            drift += _compare_level(model, bucket, kept, in_hours, project(expected, keys, kept))
        elif first_day < last_day:
            drift += _compare_level(model, bucket, kept, whole_days, project(in_days, keys, kept))
    return drift


def _compare_level(
    model: type[models.Model], bucket: str, keys: tuple[str, ...], when: Q, expected: Contribution
) -> list[Drift]:
    counters = table_counters(model)
    stored: dict[Key, dict[str, int]] = {}
    for row in model._default_manager.filter(when).values(bucket, *keys, *counters):
        counts = {c: row[c] for c in counters if row[c]}
        if counts:
            stored[(row[bucket], *(row[k] for k in keys))] = counts
    drift = []
    for key in sorted(set(stored) | set(expected), key=str):
        have = stored.get(key, {})
        want = {n: a for n, a in expected.get(key, {}).items() if a}
        if have != want:
            drift.append(Drift(model._meta.label, key, have, want))
    return drift
