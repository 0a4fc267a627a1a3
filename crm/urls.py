from django.urls import path

from crm import messaging_views, views

urlpatterns: list = [
    path("conversations", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>", views.ConversationDetailView.as_view(), name="conversation-detail"),
    path(
        "conversations/<int:conversation_id>/assign",
        views.ConversationAssignView.as_view(),
        name="conversation-assign",
    ),
    path(
        "conversations/<int:conversation_id>/priority",
        views.ConversationPriorityView.as_view(),
        name="conversation-priority",
    ),
    path(
        "conversations/<int:conversation_id>/resolve",
        views.ConversationResolveView.as_view(),
        name="conversation-resolve",
    ),
    path(
        "conversations/<int:conversation_id>/reopen",
        views.ConversationReopenView.as_view(),
        name="conversation-reopen",
    ),
    path(
        "conversations/<int:conversation_id>/messages",
        messaging_views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path("whatsapp/senders", messaging_views.WhatsAppSenderListView.as_view(), name="whatsapp-senders"),
]
