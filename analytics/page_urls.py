"""Browser pages of analytics/ (mounted at the site root by config/urls.py)."""

from django.urls import path

from analytics import pages

urlpatterns = [
    path("agent/", pages.agent_console, name="agent-console"),
    path("dashboard/", pages.supervisor_dashboard, name="supervisor-dashboard"),
]
