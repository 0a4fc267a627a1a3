"""Twilio messaging webhooks: incoming WhatsApp messages (API.md "Webhooks"). Twilio signs every request;
nothing unsigned is written."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from crm import actions
from crm.errors import ActionError
from crm.twilio_account import twilio_webhook, webhook_error

logger = logging.getLogger(__name__)

# An empty TwiML document: "received, nothing to send back" (replies go out through the REST API).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@twilio_webhook
def whatsapp_inbound(request: HttpRequest) -> HttpResponse:
    """An incoming WhatsApp message: stored in its conversation (bot reply or hand-off), 200 empty TwiML."""
    form = request.POST
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        return webhook_error("invalid", "NumMedia must be a whole number.", 400, {"NumMedia": "Not a whole number."})
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
        return webhook_error(exc.code, exc.detail, exc.status, {exc.field: exc.detail} if exc.field else None)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
