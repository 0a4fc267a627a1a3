"""Reports into Slack through incoming webhooks: which webhook URLs we post to, the message, the POST.

A webhook URL is a secret that lets anyone holding it post into a channel, and the message carries a
link to the report's PDF, so we only ever post to hosts named in ``REPORT_SLACK_WEBHOOK_HOSTS``
(default ``hooks.slack.com``), over https. Plain http is accepted for a *loopback* host that is on that
list (a relay on the same machine, the tests' local server): nothing crosses a network there. The
check runs when a subscription is saved (`reporting.delivery.validate_recipients`) and again right
before every POST, so a URL stored before the list changed is refused too. Redirects are not followed:
a webhook answering with one is a failure, never a hop to a host that was not checked.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

LOOPBACK_NAMES = {"localhost"}


class SlackError(Exception):
    """Slack (or the network) did not take a message. `permanent`: sending it again will not help
    (a refused host, a webhook Slack says is gone or invalid); otherwise a later attempt may succeed."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_error(url: object) -> str | None:
    """Why `url` may not be used as a Slack webhook, as a sentence; None when it may."""
    if not isinstance(url, str) or not url.strip():
        return "A Slack recipient must be an incoming-webhook URL such as https://hooks.slack.com/services/…"
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return f"{url!r} is not a valid URL."
    if parts.scheme not in ("https", "http") or not host:
        return f"{url!r} is not an incoming-webhook URL (it must start with https://)."
    if parts.username is not None or parts.password is not None:
        return f"{url!r} must not carry a user name or password."
    allowed = settings.REPORT_SLACK_WEBHOOK_HOSTS
    if host not in allowed:
        return f"Slack webhooks may only point to {', '.join(allowed)}; {host!r} is not allowed (REPORT_SLACK_WEBHOOK_HOSTS)."
    if parts.scheme == "http" and not _is_loopback(host):
        return f"{url!r} must use https: the webhook URL and the report link would cross the network in clear text."
    return None


def report_message(data: dict[str, Any], pdf_url: str, link_expires: datetime) -> dict[str, Any]:
    """The Slack message of a report: title, period, the headline figures and the PDF's signed link.

    Block Kit for Slack's apps, with `text` as the plain fallback (notifications, old clients)."""
    title = str(data.get("title") or "Report")  # heading · scope · period
    heading = str(data.get("heading") or title)
    period = str((data.get("period") or {}).get("label") or "")
    scope = str((data.get("scope") or {}).get("label") or "")
    summary = [(str(item["label"]), str(item["value"])) for item in data.get("summary") or []]
    expires = link_expires.strftime("%Y-%m-%d %H:%M %Z").strip()
    context = " · ".join(part for part in (scope, period) if part)
    lines = [f"*{title}*", *(f"{label}: {value}" for label, value in summary)]
    empty = str(data.get("empty_message") or "No calls, conversations or leads in this period.")
    if data.get("is_empty"):
        lines.append(empty)
    lines.append(f"PDF: {pdf_url} (link valid until {expires})")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading[:150], "emoji": False}},
    ]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if summary:
        # Slack shows at most 10 fields in a section; the summary has 4–8 figures.
        fields = [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in summary[:10]]
        blocks.append({"type": "section", "fields": fields})
    if data.get("is_empty"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": empty}})
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"<{pdf_url}|Download the PDF report> (link valid until {expires})"},
        }
    )
    return {"text": "\n".join(line for line in lines if line), "blocks": blocks, "unfurl_links": False}


def post_message(url: str, payload: dict[str, Any]) -> None:
    """POST `payload` to the incoming webhook `url`; raises SlackError unless Slack answered 2xx."""
    error = webhook_error(url)
    if error:
        raise SlackError(error, permanent=True)
    host = urlsplit(url).hostname
    try:
        response = httpx.post(
            url.strip(), json=payload, timeout=settings.REPORT_NETWORK_TIMEOUT_SECONDS, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        raise SlackError(
            f"Slack webhook at {host} could not be reached: {exc or type(exc).__name__}", permanent=False
        ) from exc
    if response.is_success:
        return
    body = response.text[:200].strip()
    # 429 (rate limited) and 5xx pass; any other answer (400 invalid_payload, 403 invalid_token,
    # 404 no_service, 410 channel_is_archived, a redirect) will be the same next time.
    permanent = response.status_code != 429 and response.status_code < 500
    raise SlackError(
        f"Slack webhook at {host} answered HTTP {response.status_code}: {body or 'no body'}", permanent=permanent
    )
