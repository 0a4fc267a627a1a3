"""Importing historical calls: POST /api/calls/import and manage.py import_calls (API.md "Calls")."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from calls import imports
from calls.models import ApiKey, CallLog, CallStatus, RecordSource
from tests.factories import CallLogFactory, CampaignFactory, ContactFactory

URL = "/api/calls/import"
HEADER = (
    "agent,phone_number,started_at,answered_at,ended_at,status,outcome,direction,wrap_up_seconds,notes,"
    "contact_phone,campaign,external_id,twilio_call_sid"
)
GOOD_CSV = "\n".join(
    [
        HEADER,
        "agent_a1,+48 600 100 200,2026-01-05T09:00:00+01:00,2026-01-05T09:00:10+01:00,"
        "2026-01-05T09:02:10+01:00,completed,lead,outbound,30,first call,+48600100200,,ext-1,CA0001",
        "agent_a1,600100201,2026-01-05T10:00:00Z,,2026-01-05T10:01:00Z,completed,,inbound,,,,Spring,ext-2,",
        'agent_a2,+48600100202,2026-01-05T11:00:00+00:00,,2026-01-05T11:00:30+00:00,no_answer,,,,"a, b",,,,',
    ]
)


def client_for(user) -> APIClient:
    client = APIClient()
    _, raw = ApiKey.objects.create_key(user, "import")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def post_csv(client: APIClient, text: str, **extra):
    return client.post(URL, data=text.encode(), content_type="text/csv", **extra)


def post_json(client: APIClient, payload):
    return client.post(URL, data=json.dumps(payload), content_type="application/json")


@pytest.fixture
def setup(admin, agent_a1, agent_a2):
    campaign = CampaignFactory.create(name="Spring")
    contact = ContactFactory.create(phone="+48600100200", campaign=campaign)
    return {"campaign": campaign, "contact": contact}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_good_csv_creates_calls_with_server_computed_durations(admin, setup):
    response = post_csv(client_for(admin), GOOD_CSV)
    assert response.status_code == 200, response.json()
    assert response.json() == {"created": 3, "updated": 0, "skipped": 0, "errors": []}

    first = CallLog.objects.get(external_id="ext-1")
    assert first.agent.username == "agent_a1"
    assert first.phone_number == "+48600100200"
    assert first.started_at == utc(2026, 1, 5, 8, 0)
    assert first.duration_seconds == 120  # ended − answered
    assert first.wrap_up_seconds == 30
    assert (first.outcome, first.notes, first.twilio_call_sid) == ("lead", "first call", "CA0001")
    assert first.contact == setup["contact"]
    assert first.campaign == setup["campaign"]  # the contact's campaign
    assert first.source == RecordSource.IMPORT

    second = CallLog.objects.get(external_id="ext-2")
    assert second.phone_number == "+48600100201"  # national form, DEFAULT_PHONE_REGION
    assert second.answered_at == second.started_at  # completed without answer time: answered at start
    assert second.duration_seconds == 60
    assert second.direction == "inbound"
    assert second.campaign == setup["campaign"]

    third = CallLog.objects.get(phone_number="+48600100202")
    assert (third.status, third.answered_at, third.duration_seconds) == (CallStatus.NO_ANSWER, None, 0)
    assert third.external_id is None and third.twilio_call_sid is None
    assert third.notes == "a, b"
    assert third.direction == "outbound"


def json_rows() -> list[dict]:
    return [
        {
            "agent": "agent_a1",
            "phone_number": "+48600100300",
            "started_at": "2026-02-01T08:00:00+00:00",
            "answered_at": "2026-02-01T08:00:05+00:00",
            "ended_at": "2026-02-01T08:03:05+00:00",
            "status": "completed",
            "external_id": 1001,
        },
        {
            "agent": "agent_a2",
            "phone_number": "+48600100301",
            "started_at": "2026-02-01T09:00:00+00:00",
            "ended_at": "2026-02-01T09:00:20+00:00",
            "status": "busy",
            "wrap_up_seconds": 5,
            "contact_id": None,
        },
    ]


@pytest.mark.parametrize("shape", ["list", "object"])
def test_good_json_in_both_shapes(admin, setup, shape):
    payload = json_rows() if shape == "list" else {"calls": json_rows()}
    response = post_json(client_for(admin), payload)
    assert response.status_code == 200, response.json()
    assert response.json() == {"created": 2, "updated": 0, "skipped": 0, "errors": []}
    call = CallLog.objects.get(external_id="1001")
    assert call.duration_seconds == 180
    busy = CallLog.objects.get(status=CallStatus.BUSY)
    assert (busy.duration_seconds, busy.wrap_up_seconds) == (0, 5)


def test_json_links_contact_by_id(admin, setup):
    rows = json_rows()[:1]
    rows[0]["contact_id"] = setup["contact"].pk
    assert post_json(client_for(admin), rows).status_code == 200
    assert CallLog.objects.get().contact == setup["contact"]


BAD_ROWS = {
    1: ("nobody,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,completed", "no user"),
    2: ("agent_a1,12,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,completed", "not a valid phone number"),
    3: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T08:00:00Z,completed", "ended_at is before"),
    4: (
        "agent_a1,+48600100200,2026-01-05T09:00:00Z,2026-01-05T09:05:00Z,2026-01-05T09:01:00Z,completed",
        "answered_at is after ended_at",
    ),
    5: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,finished", "not a call status"),
    6: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,completed,dup", ""),
    7: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,completed,dup", "also on row 6"),
    8: ("agent_a1,+48600100200,05/01/2026 9:00,,2026-01-05T09:01:00Z,completed", "not an ISO 8601"),
    9: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,,,in_progress", "cannot be imported"),
    10: (",+48600100200,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,completed", "agent"),
    11: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,2026-01-05T08:00:00Z,2026-01-05T09:01:00Z,failed", "before"),
    12: ("agent_a1,+48600100200,2026-01-05T09:00:00Z,2026-01-05T09:00:05Z,2026-01-05T09:01:00Z,no_answer", "answered"),
    13: ("agent_a1,+48600100200,2099-01-05T09:00:00Z,,2099-01-05T09:01:00Z,completed", "future"),
}


def test_bad_rows_are_each_reported_with_their_row_number_and_nothing_is_written(admin, setup):
    header = "agent,phone_number,started_at,answered_at,ended_at,status,external_id"
    good = "agent_a1,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T09:01:00Z,completed,good-1"
    lines = [header] + [BAD_ROWS[n][0] for n in sorted(BAD_ROWS)] + [good]
    response = post_csv(client_for(admin), "\n".join(lines))
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"] == "invalid_import"
    assert body["fields"] == {}
    assert "nothing was imported" in body["detail"]
    assert (body["created"], body["updated"], body["skipped"]) == (0, 0, 0)
    by_row: dict[int, list[str]] = {}
    for error in body["errors"]:
        by_row.setdefault(error["row"], []).append(error["detail"])
    for number, (_, expected) in BAD_ROWS.items():
        if expected:
            assert any(expected in detail for detail in by_row.get(number, [])), (number, by_row.get(number))
    assert 6 not in by_row  # the first occurrence of a duplicate is fine
    assert len(BAD_ROWS) + 1 not in by_row  # the good row
    assert CallLog.objects.count() == 0


def test_bad_file_structure_is_one_sentence(admin, setup):
    response = post_csv(client_for(admin), "agent,phone,started_at,status\nagent_a1,1,2,3")
    assert response.status_code == 400
    assert "Unknown column" in response.json()["detail"]
    response = post_csv(client_for(admin), "agent,started_at,status\nagent_a1,2026-01-05T09:00:00Z,completed")
    assert response.status_code == 400
    assert "phone_number" in response.json()["detail"]
    response = post_json(client_for(admin), {"rows": []})
    assert response.status_code == 400
    response = post_json(client_for(admin), ["not an object"])
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == 1


def test_reimporting_the_same_file_skips_every_row(admin, setup):
    client = client_for(admin)
    csv_text = GOOD_CSV
    assert post_csv(client, csv_text).json()["created"] == 3
    again = post_csv(client, csv_text)
    assert again.status_code == 200
    # The third row has no identifier, so it is created again; the two keyed rows are skipped.
    assert again.json() == {"created": 1, "updated": 0, "skipped": 2, "errors": []}

    keyed = "\n".join(GOOD_CSV.splitlines()[:3])
    assert post_csv(client, keyed).json() == {"created": 0, "updated": 0, "skipped": 2, "errors": []}


def test_a_changed_row_updates_its_call(admin, setup):
    client = client_for(admin)
    post_csv(client, GOOD_CSV)
    call = CallLog.objects.get(external_id="ext-1")
    changed = GOOD_CSV.replace("first call", "first call; corrected").replace(
        "2026-01-05T09:02:10+01:00", "2026-01-05T09:03:10+01:00"
    )
    changed = "\n".join(changed.splitlines()[:3])
    response = post_csv(client, changed)
    assert response.json() == {"created": 0, "updated": 1, "skipped": 1, "errors": []}
    call.refresh_from_db()
    assert call.notes == "first call; corrected"
    assert call.duration_seconds == 180
    assert CallLog.objects.count() == 3


def test_a_row_matches_a_twilio_call_by_sid_and_keeps_its_identifiers(admin, setup, agent_a1):
    existing = CallLogFactory.create(agent=agent_a1, twilio_call_sid="CA0001", external_id=None, notes="")
    rows = [dict(json_rows()[0], twilio_call_sid="CA0001", external_id=None)]
    response = post_json(client_for(admin), rows)
    assert response.json() == {"created": 0, "updated": 1, "skipped": 0, "errors": []}
    existing.refresh_from_db()
    assert existing.twilio_call_sid == "CA0001"
    assert existing.started_at == utc(2026, 2, 1, 8, 0)
    assert existing.duration_seconds == 180


def test_identifiers_of_two_different_calls_on_one_row_are_an_error(admin, setup, agent_a1):
    CallLogFactory.create(agent=agent_a1, twilio_call_sid="CA1", external_id="E1")
    CallLogFactory.create(agent=agent_a1, twilio_call_sid="CA2", external_id="E2")
    rows = [dict(json_rows()[0], twilio_call_sid="CA2", external_id="E1")]
    response = post_json(client_for(admin), rows)
    assert response.status_code == 400
    assert "a row may match only one call" in response.json()["errors"][0]["detail"]


def test_a_call_in_progress_is_not_imported_over(admin, setup, agent_a1):
    CallLogFactory.create(
        agent=agent_a1,
        status=CallStatus.IN_PROGRESS,
        answered_at=None,
        ended_at=None,
        duration_seconds=0,
        external_id="live",
    )
    response = post_json(client_for(admin), [dict(json_rows()[0], external_id="live")])
    assert response.status_code == 400
    assert "still in progress" in response.json()["errors"][0]["detail"]


def test_dry_run_counts_without_writing(admin, setup):
    response = post_csv(client_for(admin), GOOD_CSV, QUERY_STRING="dry_run=true")
    assert response.json() == {"created": 3, "updated": 0, "skipped": 0, "errors": [], "dry_run": True}
    assert CallLog.objects.count() == 0


def test_oversized_imports_are_refused(admin, setup, monkeypatch):
    client = client_for(admin)
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 2)
    response = post_csv(client, GOOD_CSV)
    assert response.status_code == 413
    assert response.json()["error"] == "oversized_import"
    assert "Oversized import" in response.json()["detail"]
    response = post_json(client, json_rows() * 2)
    assert response.status_code == 413

    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 100)
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 100)
    response = post_csv(client, GOOD_CSV)
    assert response.status_code == 413
    assert "Oversized import" in response.json()["detail"]
    assert CallLog.objects.count() == 0


@pytest.mark.parametrize("persona", ["supervisor_a", "agent_a1"])
def test_only_admins_may_import(request, setup, persona):
    response = post_csv(client_for(request.getfixturevalue(persona)), GOOD_CSV)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert CallLog.objects.count() == 0


def test_an_api_key_is_required(setup):
    response = post_csv(APIClient(), GOOD_CSV)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_other_content_types_are_refused(admin, setup):
    response = client_for(admin).post(URL, data="x", content_type="text/plain")
    assert response.status_code == 415


# --- Time zones -------------------------------------------------------------------------------------


def test_naive_times_are_wall_clock_times_across_the_spring_dst_change(admin, setup, settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    csv_text = "\n".join(
        [
            "agent,phone_number,started_at,answered_at,ended_at,status",
            # 01:50 CET (+01:00) to 03:10 CEST (+02:00): 20 minutes of wall clock hide a skipped hour.
            "agent_a1,+48600100200,2026-03-29 01:50:00,2026-03-29T01:55:00,2026-03-29T03:10:00,completed",
        ]
    )
    response = post_csv(client_for(admin), csv_text)
    assert response.status_code == 200, response.json()
    call = CallLog.objects.get()
    assert call.started_at == utc(2026, 3, 29, 0, 50)
    assert call.answered_at == utc(2026, 3, 29, 0, 55)
    assert call.ended_at == utc(2026, 3, 29, 1, 10)
    assert call.duration_seconds == 15 * 60


def test_naive_times_that_do_not_exist_or_happen_twice_are_refused(admin, setup, settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    csv_text = "\n".join(
        [
            "agent,phone_number,started_at,ended_at,status",
            "agent_a1,+48600100200,2026-03-29T02:30:00,2026-03-29T03:30:00,failed",
            "agent_a1,+48600100200,2026-10-25T02:30:00,2026-10-25T03:30:00,failed",
            "agent_a1,+48600100200,2026-10-25T02:30:00+02:00,2026-10-25T02:40:00+01:00,failed",
        ]
    )
    response = post_csv(client_for(admin), csv_text)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["row"] for e in errors] == [1, 2]
    assert "does not exist in Europe/Warsaw" in errors[0]["detail"]
    assert "happens twice in Europe/Warsaw" in errors[1]["detail"]


def test_offsets_win_over_the_time_zone(admin, setup, settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    rows = [
        dict(
            json_rows()[0],
            started_at="2026-10-25T02:30:00+02:00",
            answered_at=None,
            ended_at="2026-10-25T02:10:00+01:00",
        )
    ]
    response = post_json(client_for(admin), rows)
    assert response.status_code == 200, response.json()
    call = CallLog.objects.get()
    assert call.duration_seconds == 40 * 60  # completed, answered at start: 00:30Z → 01:10Z


# --- manage.py import_calls ----------------------------------------------------------------------------


def test_command_imports_a_file(setup, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_text(GOOD_CSV)
    call_command("import_calls", str(path))
    out = capsys.readouterr().out
    assert "created 3, updated 0, skipped 0" in out
    assert CallLog.objects.filter(source=RecordSource.IMPORT).count() == 3


def test_command_reads_json(setup, tmp_path, capsys):
    path = tmp_path / "calls.data"
    path.write_text(json.dumps({"calls": json_rows()}))
    call_command("import_calls", str(path), "--format", "json")
    assert "created 2" in capsys.readouterr().out


def test_command_reports_bad_rows_and_writes_nothing(setup, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_text(GOOD_CSV + "\nagent_a1,+48600100200,2026-01-05T09:00:00Z,,2026-01-05T08:00:00Z,completed")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_calls", str(path))
    assert "row 4: ended_at is before started_at" in capsys.readouterr().err
    assert CallLog.objects.count() == 0


def test_command_dry_run_writes_nothing(setup, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_text(GOOD_CSV)
    call_command("import_calls", str(path), "--dry-run")
    assert "created 3, updated 0, skipped 0 (dry run: nothing was written)" in capsys.readouterr().out
    assert CallLog.objects.count() == 0


def test_command_refuses_unknown_formats_and_missing_files(setup, tmp_path):
    with pytest.raises(CommandError, match="format"):
        call_command("import_calls", str(tmp_path / "calls.txt"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_calls", str(tmp_path / "missing.csv"))


# "Today" in these tests is 12:00 local, so a run around midnight cannot split a day (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("midday")
