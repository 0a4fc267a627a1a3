"""Expiring signed links to a delivery's PDF, for messages (Slack) whose readers do not log in.

The token is the delivery's id signed with SECRET_KEY and a timestamp (django.core.signing,
TimestampSigner, salt below): whoever holds the link may read that one PDF until the link is
REPORT_PDF_LINK_MAX_AGE_SECONDS old, and no other. Changing SECRET_KEY invalidates every link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from reporting.models import ReportDelivery

SALT = "reporting.pdf-link"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def pdf_link(delivery: ReportDelivery) -> tuple[str, datetime]:
    """The absolute URL (settings.PUBLIC_BASE_URL) of the delivery's PDF, and when it stops working."""
    token = _signer().sign(str(delivery.pk))
    path = reverse("report-pdf-link", kwargs={"token": token})
    return settings.PUBLIC_BASE_URL + path, timezone.now() + timedelta(seconds=settings.REPORT_PDF_LINK_MAX_AGE_SECONDS)


def pdf_filename(delivery: ReportDelivery) -> str:
    """`<slug>-<period>.pdf`: the name a person sees when saving the PDF (e-mail attachment, download)."""
    label = delivery.subscription.name if delivery.subscription else str((delivery.data or {}).get("title") or "report")
    slug = slugify(label) or "report"
    period = delivery.period_start.isoformat()
    if delivery.period_end != delivery.period_start:
        period += f"_{delivery.period_end.isoformat()}"
    return f"{slug}-{period}.pdf"


def _refusal(status: int, sentence: str) -> HttpResponse:
    response = HttpResponse(sentence + "\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def pdf_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """GET /reports/pdf/<token>: the PDF of the delivery the token names, while the token is fresh."""
    try:
        delivery_id = int(_signer().unsign(token, max_age=settings.REPORT_PDF_LINK_MAX_AGE_SECONDS))
    except signing.SignatureExpired:
        return _refusal(410, "This report link has expired. Ask the report's owner to send the report again.")
    except (signing.BadSignature, ValueError):
        return _refusal(403, "This report link is not valid. Check that the whole link was copied.")
    delivery = ReportDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or not delivery.pdf:
        return _refusal(404, "This report is no longer available.")
    try:
        handle = delivery.pdf.open("rb")
    except FileNotFoundError:
        return _refusal(404, "This report is no longer available.")
    response = FileResponse(handle, content_type="application/pdf", filename=pdf_filename(delivery))
    # The link is the credential: keep the PDF out of shared caches and the link out of Referer headers.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
