"""Analytics API routes (API.md "Agent dashboard", "CRM effectiveness dashboard"). Each part is
owned by one views module."""

from django.urls import path

from analytics import agent_views, board_views, dashboard_views, export_views, ops_views, pdf_views

# the agent's 12 stats, update-after-call, per-agent call KPIs, team table (analytics/agent_views.py)
agent_patterns: list = [
    path("crm/dashboard/stats", agent_views.AgentStatsView.as_view(), name="agent-stats"),
    path(
        "crm/dashboard/stats/update-after-call",
        agent_views.UpdateAfterCallView.as_view(),
        name="agent-stats-update-after-call",
    ),
    path("agents/board", board_views.AgentBoardView.as_view(), name="agent-board"),
    path("analytics/agents/kpis", agent_views.TeamKpisView.as_view(), name="agent-kpis-table"),
    path("analytics/agents/<int:agent_id>/kpis", agent_views.AgentKpisView.as_view(), name="agent-kpis"),
]

# the seven CRM dashboard sections (analytics/dashboard_views.py)
dashboard_patterns: list = [
    *(
        path(f"dashboard/{section}", view.as_view(), name=f"dashboard-{section}")
        for section, view in dashboard_views.SECTION_VIEWS.items()
    ),
    path("dashboard/metrics", dashboard_views.MetricCatalogueView.as_view(), name="dashboard-metrics"),
]

# snapshots cron, exports, metric catalogue, audit (analytics/ops_views.py)
ops_patterns: list = [
    path("cron/aggregate-metrics", ops_views.AggregateMetricsView.as_view(), name="cron-aggregate-metrics"),
    path("dashboard/history", ops_views.SnapshotHistoryView.as_view(), name="dashboard-history"),
    path("dashboard/export.pdf", pdf_views.DashboardPdfView.as_view(), name="dashboard-pdf"),
    path("dashboard/<str:section>/export", export_views.SectionExportView.as_view(), name="dashboard-export"),
    path("analytics/agents/kpis/export", export_views.AgentKpisExportView.as_view(), name="agent-kpis-export"),
    path("dashboard/metrics/<str:key>", export_views.MetricDrillDownView.as_view(), name="dashboard-metric"),
]

urlpatterns = [*agent_patterns, *dashboard_patterns, *ops_patterns]
