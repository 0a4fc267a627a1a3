"""PostgreSQL only: GiST indexes on each interval's span, tstzrange(started_at, ended_at), for the
rollup reads that look for the intervals overlapping a partial hour (crm.rollups.Source.within).
A btree on ended_at answers "ended after X" by reading every interval since X; the range index
answers the overlap directly. SQLite has no range type; its reads keep the btree branches."""

from django.db import migrations

SPANS = (
    ("calls_agentstatusperiod", "status_period_span"),
    ("calls_agentsession", "session_span"),
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name in SPANS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gist (tstzrange(started_at, ended_at))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _, name in SPANS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("calls", "0004_analytics_rollups")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
