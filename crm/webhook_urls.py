"""Twilio messaging webhooks (mounted at /webhooks/twilio/messaging/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
