"""Twilio messaging webhooks: incoming WhatsApp messages (API.md "Webhooks"). Twilio signs every request;
nothing unsigned is written."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm import actions
from crm.errors import ActionError
from crm.twilio_account import twilio_request_is_signed

logger = logging.getLogger(__name__)

# An empty TwiML document: "received, nothing to send back" (replies go out through the REST API).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _error(code: str, detail: str, status: int, fields: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"success": False, "error": code, "detail": detail, "fields": fields or {}}, status=status)


@csrf_exempt  # Twilio cannot send a CSRF token; the request signature authenticates it instead.
@require_POST
def whatsapp_inbound(request: HttpRequest) -> HttpResponse:
    """An incoming WhatsApp message: stored in its conversation (bot reply or hand-off), 200 empty TwiML."""
    if not twilio_request_is_signed(request):
        logger.warning(
            "Refused a Twilio inbound message with an invalid signature from %s", request.META.get("REMOTE_ADDR")
        )
        return _error(
            "invalid_signature", "The X-Twilio-Signature header is missing or does not match this request.", 403
        )
    form = request.POST
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        return _error("invalid", "NumMedia must be a whole number.", 400, {"NumMedia": "Not a whole number."})
    try:
        actions.do_receive_inbound_message(
            message_sid=form.get("MessageSid", "").strip(),
            from_number=form.get("From", ""),
            to_number=form.get("To", ""),
            body=form.get("Body", ""),
            num_media=max(num_media, 0),
            profile_name=form.get("ProfileName", "").strip(),
        )
    except ActionError as exc:
        return _error(exc.code, exc.detail, exc.status, {exc.field: exc.detail} if exc.field else None)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
