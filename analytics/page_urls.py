"""Browser pages of analytics/ (mounted at the site root by config/urls.py)."""

from django.urls import path
from django.views.generic import RedirectView

from analytics import pages

urlpatterns = [
    path("agent/", pages.agent_console, name="agent-console"),
    path("dashboard/", pages.supervisor_dashboard, name="supervisor-dashboard"),
    # the seed's address of the agent dashboard, kept for bookmarks
    path("ankieter/", RedirectView.as_view(pattern_name="agent-console", permanent=True)),
]
