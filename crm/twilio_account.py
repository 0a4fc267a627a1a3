"""The Twilio account: credentials, the REST client, and webhook signature checks.

Lives in crm/ (the lowest app that needs it) because both the WhatsApp webhooks (crm/) and the voice
webhooks (calls/) validate `X-Twilio-Signature` the same way.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

NOT_CONFIGURED = "Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."


def twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)


def twilio_rest_client() -> Client:
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: behind a TLS proxy the request arrives as http://internal/..., but Twilio
    signed https://public/..., so the signature is checked against PUBLIC_BASE_URL + path."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def twilio_request_is_signed(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    return bool(RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(public_url(request), request.POST, signature))
