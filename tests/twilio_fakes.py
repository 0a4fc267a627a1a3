"""Twilio at the HTTP boundary: a twilio `HttpClient` that answers from a script with Twilio-shaped JSON.

Used with the real `twilio.rest.Client(sid, token, http_client=FakeHttpClient(...))`, so the library's
paging, deserialisation and error handling all run for real.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "secret"
CALLS_URI = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


@dataclass
class RecordedRequest:
    method: str
    url: str
    params: dict[str, Any]
    data: dict[str, Any]


class FakeHttpClient(HttpClient):
    """Returns the scripted responses in order and records every request."""

    def __init__(self, *responses: Response) -> None:
        super().__init__(logging.getLogger("tests.twilio"), is_async=False)
        self.responses = list(responses)
        self.requests: list[RecordedRequest] = []

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ) -> Response:
        self.requests.append(RecordedRequest(method, uri, dict(params or {}), dict(data or {})))
        if not self.responses:
            raise AssertionError(f"Unexpected Twilio request: {method} {uri}")
        return self.responses.pop(0)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def twilio_call(
    sid: str,
    *,
    status: str = "completed",
    duration: int | None = 60,
    price: str | None = "-0.01350",
    start_time: datetime,
    end_time: datetime | None = None,
    direction: str = "outbound-api",
    to: str = "+48600100200",
    from_: str = "+48221234567",
) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "status": status,
        "duration": None if duration is None else str(duration),
        "price": price,
        "price_unit": "USD",
        "start_time": rfc2822(start_time),
        "end_time": rfc2822(end_time) if end_time else None,
        "direction": direction,
        "from": from_,
        "to": to,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
    }


def calls_page(calls: list[dict[str, Any]], *, page: int = 0, page_size: int = 200, last: bool = True) -> Response:
    next_uri = None if last else f"{CALLS_URI}?PageSize={page_size}&Page={page + 1}&PageToken=PA{page + 1:032d}"
    body = {
        "calls": calls,
        "page": page,
        "page_size": page_size,
        "start": page * page_size,
        "end": page * page_size + len(calls) - 1,
        "first_page_uri": f"{CALLS_URI}?PageSize={page_size}&Page=0",
        "next_page_uri": next_uri,
        "previous_page_uri": None,
        "uri": f"{CALLS_URI}?PageSize={page_size}&Page={page}",
    }
    return Response(200, json.dumps(body), {"Content-Type": "application/json"})


def rate_limited() -> Response:
    body = {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    return Response(429, json.dumps(body), {"Content-Type": "application/json"})


def unauthorized() -> Response:
    body = {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    return Response(401, json.dumps(body), {"Content-Type": "application/json"})
