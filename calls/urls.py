from django.urls import path

from calls import imports, views, webhooks

urlpatterns = [
    path("calls/start", views.StartCallView.as_view(), name="call-start"),
    path("calls/answered", views.AnsweredView.as_view(), name="call-answered"),
    path("calls/end", views.EndCallView.as_view(), name="call-end"),
    path("calls/<int:call_id>/disposition", views.DispositionView.as_view(), name="call-disposition"),
    path("calls/log", views.CallLogView.as_view(), name="call-log"),
    path("calls/import", imports.CallImportView.as_view(), name="call-import"),
    path("agents/me/status", views.MyStatusView.as_view(), name="agent-status"),
    path("agents/<int:agent_id>/timeline", views.TimelineView.as_view(), name="agent-timeline"),
    path("crm/dashboard/sync-twilio", webhooks.SyncTwilioView.as_view(), name="sync-twilio"),
    path("crm/dashboard/sync-twilio/<int:run_id>", webhooks.SyncTwilioRunView.as_view(), name="sync-twilio-run"),
]
