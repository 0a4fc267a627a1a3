"""Twilio messaging webhooks (mounted at /webhooks/twilio/messaging/)."""

from django.urls import path

from crm import messaging_views, webhooks

urlpatterns: list = [
    path("inbound", webhooks.whatsapp_inbound, name="twilio-messaging-inbound"),
    path("status", messaging_views.message_status, name="twilio-messaging-status"),
]
