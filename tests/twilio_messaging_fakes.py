"""Twilio's Messages API at the HTTP boundary: Twilio-shaped JSON for POST .../Messages.json, for the
real `twilio.rest.Client(sid, token, http_client=FakeHttpClient(...))` (tests/twilio_fakes.py)."""

from __future__ import annotations

import json
from datetime import datetime

from django.utils import timezone
from twilio.http.response import Response

from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, FakeHttpClient, rfc2822

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "MESSAGES_URI", "FakeHttpClient", "message_created", "twilio_error"]

MESSAGES_URI = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def message_created(
    sid: str,
    *,
    to: str = "whatsapp:+48600100200",
    from_: str = "whatsapp:+48221234567",
    body: str = "Hello",
    status: str = "queued",
    price: str | None = None,
    at: datetime | None = None,
) -> Response:
    """Twilio's 201 answer to creating a message."""
    stamp = rfc2822(at or timezone.now())
    payload = {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": stamp,
        "date_sent": None,
        "date_updated": stamp,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "to": to,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": price,
        "price_unit": "USD",
        "status": status,
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"},
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }
    return Response(201, json.dumps(payload), {"Content-Type": "application/json"})


def twilio_error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(status, json.dumps(body), {"Content-Type": "application/json"})
