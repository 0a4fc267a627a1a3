from django.urls import path

from calls import webhooks

urlpatterns = [
    path("voice/status", webhooks.voice_status, name="twilio-voice-status"),
]
