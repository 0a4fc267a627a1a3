from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to Callboard" in response.content


def test_home_requires_login_and_sends_each_role_to_its_page(client, agent_a1, supervisor_a, admin):
    assert client.get("/").url.startswith("/accounts/login/")
    client.force_login(agent_a1)
    assert client.get("/").url == "/agent/"
    page = client.get("/agent/").content.decode()
    assert "Agent" in page and "/admin/" not in page and 'href="/dashboard/"' not in page
    for person in (supervisor_a, admin):
        client.force_login(person)
        assert client.get("/").url == "/dashboard/"
    page = client.get("/dashboard/").content.decode()
    assert 'href="/admin/"' in page


def test_the_supervisor_dashboard_is_not_for_agents(client, agent_a1):
    client.force_login(agent_a1)
    assert client.get("/dashboard/").status_code == 403


def test_wrong_password_is_explained_and_logs_nobody_in(client, agent_a1):
    response = client.post("/accounts/login/", {"username": "agent_a1", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content
    assert "_auth_user_id" not in client.session


def test_login_and_logout(client, agent_a1):
    response = client.post("/accounts/login/", {"username": "agent_a1", "password": "pw"})
    assert response.status_code == 302 and response.url == "/"
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn." not in docs and "unpkg" not in docs


def test_openapi_schema_is_valid_and_documents_every_api_path(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = out.read_text()
    for path in (
        "/api/calls/start",
        "/api/calls/answered",
        "/api/calls/end",
        "/api/calls/{call_id}/disposition",
        "/api/calls/log",
        "/api/calls/import",
        "/api/agents/me/status",
        "/api/agents/{agent_id}/timeline",
        "/api/crm/dashboard/sync-twilio",
    ):
        assert f"  {path}:" in schema, path


def test_the_seeds_agent_dashboard_address_leads_to_the_console(client, agent_a1):
    client.force_login(agent_a1)
    response = client.get("/ankieter/")
    assert response.status_code == 301 and response.url == "/agent/"


def test_the_chart_library_is_served_from_its_pypi_package_not_a_cdn(client, supervisor_a, tmp_path, settings):
    from django.contrib.staticfiles import finders
    from django.core.management import call_command

    found = finders.find("vendor/plotly.min.js")
    assert found and found.endswith("plotly/package_data/plotly.min.js")
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)
    assert (tmp_path / "vendor" / "plotly.min.js").stat().st_size > 1_000_000
    assert not (tmp_path / "vendor" / "widgetbundle.js").exists()  # only the one bundle
    client.force_login(supervisor_a)
    page = client.get("/dashboard/").content.decode()
    assert "vendor/plotly.min.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page and "https://" not in page
