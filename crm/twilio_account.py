"""The Twilio account: credentials, the REST client, and webhook signature checks.

Lives in crm/ (the lowest app that needs it) because both the WhatsApp webhooks (crm/) and the voice
webhooks (calls/) validate `X-Twilio-Signature` the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.rest import Client

logger = logging.getLogger(__name__)

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


def webhook_error(code: str, detail: str, status: int, fields: dict[str, str] | None = None) -> JsonResponse:
    """The API's error body (API.md), for the plain Django views that receive Twilio's webhooks."""
    return JsonResponse({"success": False, "error": code, "detail": detail, "fields": fields or {}}, status=status)


def twilio_webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A Twilio webhook: POST only, no CSRF token (Twilio cannot send one), and the X-Twilio-Signature must
    match — otherwise 403 `invalid_signature` and the view never runs, so nothing is written."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def signed_view(request: HttpRequest) -> HttpResponse:
        if not twilio_request_is_signed(request):
            logger.warning(
                "Refused a Twilio request to %s with an invalid signature from %s",
                request.path,
                request.META.get("REMOTE_ADDR"),
            )
            return webhook_error(
                "invalid_signature", "The X-Twilio-Signature header is missing or does not match this request.", 403
            )
        return view(request)

    return signed_view
