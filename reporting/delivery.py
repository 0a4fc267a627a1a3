"""Delivering reports: a delivery's life from its period coming due to the report in someone's inbox.

A `ReportDelivery` is one report of one period. Its states (docs/reports-delivery.md):

- ``pending``: waiting to be sent. ``next_attempt_at`` says when it may be tried (NULL: not scheduled,
  e.g. an ad-hoc report from `generate` until someone asks to send it).
- ``sending``: a worker claimed it (``claimed_at``) and is building, rendering or sending it.
- ``sent`` (``sent_at``), ``skipped`` (``last_error`` says why: nothing to report and skip-if-empty, or
  the subscription was deactivated before it went out), ``failed`` (``last_error``; the
  owner was e-mailed).

Claiming is one conditional UPDATE (pending and due → sending, attempts + 1): of any number of workers
handed the same delivery, exactly one gets it, on SQLite and PostgreSQL alike. The worker then builds the
data (stored in ``data``), renders the PDF (stored in ``pdf``) and sends as the very last step, then marks
the row sent. A failure puts the delivery back to pending with ``next_attempt_at`` after an exponential
backoff, until REPORT_MAX_ATTEMPTS; the schedule lives in the row, so it holds whether tasks run eagerly
(the embedded default, where Celery's countdown means nothing) or on real workers.
`dispatch_due_deliveries` (beat, every minute) sends whatever is due and recovers deliveries stuck in
``sending`` past REPORT_SENDING_TIMEOUT_SECONDS: it sends them again (at least once, on purpose: a
crash is far likelier while rendering than in the instant between Slack/SMTP answering and the row
being marked sent, and a report sent twice is better than a report silently never sent).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives, get_connection, mail_admins, send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from reporting import slack
from reporting.links import pdf_filename, pdf_link
from reporting.models import (
    DeliveryMethod,
    DeliveryStatus,
    ReportDelivery,
    ReportSubscription,
    ReportTemplate,
)

if TYPE_CHECKING:
    from crm.models import User

logger = logging.getLogger(__name__)

MAX_PERIOD_DAYS = 366  # an ad-hoc report covers at most a year (the API checks the same before calling)


class DeliveryError(ValueError):
    """A report cannot be sent or built as asked; the message is a sentence for the person who asked."""


class _SendFailure(Exception):
    """An attempt at a delivery failed. `permanent`: trying again cannot help (refused recipients)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- Recipients -------------------------------------------------------------------------------------------


def validate_recipients(method: str, recipients: object) -> list[str]:
    """Why `recipients` cannot receive reports sent by `method`, one sentence per problem ([] = fine).

    E-mail: valid addresses. Slack: incoming-webhook URLs on an allowed host (reporting/slack.py).
    At least one recipient is needed. Subscriptions' validation (admin, API) and every send call this."""
    if method not in DeliveryMethod.values:
        return [f"Unknown delivery method {method!r}: use {' or '.join(DeliveryMethod.values)}."]
    what = "e-mail addresses" if method == DeliveryMethod.EMAIL else "Slack incoming-webhook URLs"
    if not isinstance(recipients, list) or not all(isinstance(item, str) for item in recipients):
        return [f"Recipients must be a list of {what}."]
    if not recipients:
        return [f"Add at least one recipient ({what})."]
    errors: list[str] = []
    for recipient in recipients:
        if method == DeliveryMethod.EMAIL:
            try:
                validate_email(recipient)
            except ValidationError:
                errors.append(f"{recipient!r} is not a valid e-mail address.")
        else:
            error = slack.webhook_error(recipient)
            if error:
                errors.append(error)
    return errors


# --- Scheduling -------------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: the base, doubled each time, capped."""
    seconds = settings.REPORT_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.REPORT_RETRY_MAX_DELAY_SECONDS))


def _copied_from(subscription: ReportSubscription) -> dict[str, Any]:
    """What a delivery takes from its subscription when it is made (or started over)."""
    return {
        "report_type": subscription.report_type,
        "team_id": subscription.team_id,
        "agent_id": subscription.agent_id,
        "delivery_method": subscription.delivery_method,
        "recipients": list(subscription.recipients or []),
        "timezone": subscription.timezone,
    }


def _local_today(subscription: ReportSubscription, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(subscription.zone).date()


def delivery_for(subscription: ReportSubscription, day: date) -> ReportDelivery:
    """The delivery of the period a report sent on local date `day` covers, made if it does not exist.

    (subscription, period) is unique, so asking twice — or two workers asking at once — gives one row."""
    from reporting.content import report_period

    start, end = report_period(subscription.report_type, day)
    delivery, _ = ReportDelivery.objects.get_or_create(
        subscription=subscription, period_start=start, period_end=end, defaults=_copied_from(subscription)
    )
    return delivery


def _enqueue(delivery_id: int) -> None:
    """Send the delivery once the current transaction commits (right away outside of one)."""

    def enqueue() -> None:
        from reporting.tasks import send_delivery as send_delivery_task  # the tasks import this module

        send_delivery_task.delay(delivery_id)

    transaction.on_commit(enqueue)


def run_subscription(subscription_id: int, now: datetime | None = None) -> ReportDelivery | None:
    """What beat fires at a subscription's delivery time: today's delivery (today in the subscription's
    time zone) is made and sent. Firing again for the same period sends nothing more; None when the
    subscription is inactive or gone."""
    subscription = ReportSubscription.objects.filter(pk=subscription_id, is_active=True).first()
    if subscription is None:
        return None
    now = now or timezone.now()
    delivery = delivery_for(subscription, _local_today(subscription, now))
    # Only a delivery nobody scheduled yet is scheduled now: one already sent, being sent, failed or
    # waiting for a retry keeps its state (the idempotency of a second firing).
    scheduled = ReportDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, next_attempt_at__isnull=True
    ).update(next_attempt_at=now)
    if scheduled:
        _enqueue(delivery.pk)
    delivery.refresh_from_db()
    return delivery


# Why a delivery was skipped (its last_error, shown in the admin).
DEACTIVATED = "Not sent: the subscription was deactivated."
EMPTY_PERIOD = "Not sent: the period had no data, and the subscription skips empty periods."


def cancel_scheduled_deliveries(subscription: ReportSubscription) -> int:
    """A deactivated subscription sends nothing more by itself: its pending deliveries that beat
    started (a first attempt not yet taken, a retry) become `skipped`, saying why. One a person asked
    for ("send now", `requested_by` set) still goes out, and so does one a worker holds right now
    (`send_delivery` checks again when it claims). Returns how many were cancelled."""
    cancelled = ReportDelivery.objects.filter(
        subscription=subscription, status=DeliveryStatus.PENDING, requested_by__isnull=True
    ).update(status=DeliveryStatus.SKIPPED, last_error=DEACTIVATED, next_attempt_at=None)
    if cancelled:
        logger.info("Subscription %s deactivated: %s pending deliveries skipped", subscription.pk, cancelled)
    return cancelled


def send_now(subscription: ReportSubscription, requested_by: User | None = None) -> ReportDelivery:
    """The admin's "send now": the current period's delivery is started over (figures built afresh,
    a fresh set of attempts, even if it was sent or failed: a deliberate resend) and sent."""
    errors = validate_recipients(subscription.delivery_method, subscription.recipients)
    if errors:
        raise DeliveryError(" ".join(errors))
    with transaction.atomic():
        delivery = delivery_for(subscription, _local_today(subscription))
        delivery = ReportDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status == DeliveryStatus.SENDING:
            raise DeliveryError(
                f"The report for {_period_text(delivery)} is being sent right now; look at its delivery in a minute."
            )
        old_pdf = delivery.pdf.name
        for field, value in _copied_from(subscription).items():
            setattr(delivery, field, value)
        delivery.status = DeliveryStatus.PENDING
        delivery.attempts = 0
        delivery.last_error = ""
        delivery.data = None
        delivery.pdf = ""
        delivery.delivered_to = []
        delivery.claimed_at = None
        delivery.sent_at = None
        delivery.next_attempt_at = timezone.now()
        delivery.requested_by = requested_by
        delivery.save()
        if old_pdf:
            transaction.on_commit(lambda: delivery.pdf.storage.delete(old_pdf))
        _enqueue(delivery.pk)
    return delivery


def request_send(delivery: ReportDelivery) -> ReportDelivery:
    """API `send`: send an existing delivery now, with the data and PDF it already has.

    pending → sent now rather than at its next retry (its attempts count on); failed → pending with a
    fresh set of attempts (a person asked again). Sent, being sent, skipped, or without valid
    recipients: DeliveryError, and nothing changes."""
    with transaction.atomic():
        delivery = ReportDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status == DeliveryStatus.SENT:
            sent = timezone.localtime(delivery.sent_at).strftime("%Y-%m-%d %H:%M") if delivery.sent_at else "earlier"
            raise DeliveryError(
                f"This report was already sent ({sent}). To send it again, use the subscription's "
                "“send now” or generate a new report."
            )
        if delivery.status == DeliveryStatus.SENDING:
            raise DeliveryError("This report is being sent right now.")
        if delivery.status == DeliveryStatus.SKIPPED:
            reason = delivery.last_error.removeprefix("Not sent: ") or "its period had no data."
            raise DeliveryError(f"This report was skipped: {reason} Use the subscription's “send now” to send it.")
        if not delivery.recipients:
            raise DeliveryError("This report has no recipients: generate it again with recipients.")
        errors = validate_recipients(delivery.delivery_method, delivery.recipients)
        if errors:
            raise DeliveryError(" ".join(errors))
        if delivery.status == DeliveryStatus.FAILED:
            delivery.attempts = 0
            delivery.last_error = ""
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
        _enqueue(delivery.pk)
    return delivery


def dispatch_due_deliveries(now: datetime | None = None) -> int:
    """Beat's minute tick: recover deliveries stuck in `sending`, then send every pending delivery whose
    time has come (first attempts whose task was lost, retries). Returns how many were handed over."""
    now = now or timezone.now()
    recover_stuck_deliveries(now)
    due = list(
        ReportDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    from reporting.tasks import send_delivery as send_delivery_task

    for delivery_id in due:
        # A task already queued for it (a countdown retry) and this one race for the claim: one sends.
        send_delivery_task.delay(delivery_id)
    return len(due)


def recover_stuck_deliveries(now: datetime | None = None) -> int:
    """Deliveries `sending` for longer than REPORT_SENDING_TIMEOUT_SECONDS lost their worker (killed,
    out of memory, the machine restarted). Each counts as a failed attempt and is tried again at once,
    or fails for good (owner told) when it was the last attempt. Returns how many were recovered."""
    now = now or timezone.now()
    timeout = settings.REPORT_SENDING_TIMEOUT_SECONDS
    stuck = ReportDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - timedelta(seconds=timeout)
    ).select_related("subscription__owner", "requested_by")
    recovered = 0
    for delivery in stuck:
        assert delivery.claimed_at is not None  # noqa: S101 - filtered above
        claimed = timezone.localtime(delivery.claimed_at).strftime("%Y-%m-%d %H:%M:%S %Z")
        error = (
            f"The worker sending it stopped without finishing (claimed at {claimed}, nothing heard for {timeout} s); "
            "it may or may not have gone out"
        )
        logger.warning("Report delivery %s stuck in sending since %s: recovered", delivery.pk, claimed)
        _record_failure(delivery, delivery.claimed_at, error, permanent=False, retry_at=now)
        recovered += 1
    return recovered


# --- Building ---------------------------------------------------------------------------------------------


def _template_html(template: ReportTemplate | None) -> str | None:
    return template.html if template is not None else None


def preview_pdf(subscription: ReportSubscription, day: date | None = None) -> bytes:
    """The PDF the subscription would send for the period of local date `day` (default today), built
    now from the current figures; nothing is stored or sent."""
    from reporting.content import build_report, report_period
    from reporting.rendering import render_pdf

    start, end = report_period(subscription.report_type, day or _local_today(subscription))
    data = build_report(
        subscription.report_type,
        start,
        end,
        team_id=subscription.team_id,
        agent_id=subscription.agent_id,
        timezone=subscription.timezone or None,
    )
    return render_pdf(data, _template_html(subscription.template))


def generate(
    *,
    report_type: str,
    start: date,
    end: date,
    team_id: int | None = None,
    agent_id: int | None = None,
    timezone: str | None = None,
    template: ReportTemplate | None = None,
    recipients: list[str] | None = None,
    delivery_method: str = DeliveryMethod.EMAIL,
    requested_by: User | None = None,
) -> ReportDelivery:
    """An ad-hoc report (no subscription): its data and PDF are built and stored now; it is pending
    and not sent (`request_send` sends it). Bad input raises DeliveryError and stores nothing."""
    from reporting.content import ReportError, build_report
    from reporting.rendering import render_pdf

    if delivery_method not in DeliveryMethod.values:
        raise DeliveryError(f"Unknown delivery method {delivery_method!r}: use {' or '.join(DeliveryMethod.values)}.")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise DeliveryError(f"A report may cover at most {MAX_PERIOD_DAYS} days.")
    if recipients:
        errors = validate_recipients(delivery_method, recipients)
        if errors:
            raise DeliveryError(" ".join(errors))
    try:
        # The report type, dates, scope and zone are checked where they are understood (reporting.content).
        data = build_report(report_type, start, end, team_id=team_id, agent_id=agent_id, timezone=timezone or None)
    except ReportError as exc:
        raise DeliveryError(str(exc)) from exc
    pdf = render_pdf(data, _template_html(template))
    delivery = ReportDelivery(
        subscription=None,
        report_type=report_type,
        team_id=team_id,
        agent_id=agent_id,
        delivery_method=delivery_method,
        recipients=list(recipients or []),
        period_start=start,
        period_end=end,
        timezone=timezone or "",
        status=DeliveryStatus.PENDING,
        data=data,
        requested_by=requested_by,
    )
    delivery.pdf.save(pdf_filename(delivery), ContentFile(pdf), save=False)
    delivery.save()
    return delivery


# --- Sending ----------------------------------------------------------------------------------------------


def send_delivery(delivery_id: int) -> str:
    """Claim, build, render, send, mark sent: one attempt at a delivery. Safe to call any number of
    times from any number of workers (only a pending, due delivery is claimed, by exactly one).

    Returns the delivery's status afterwards: ``sent``, ``skipped``, ``pending`` (this attempt failed, a
    retry is scheduled), ``failed`` (for good, owner told); or, when there was nothing to claim, its
    current status (``sending`` elsewhere, ``sent``, a ``pending`` retry not yet due…) or ``missing``."""
    claimed_at = timezone.now()
    claimed = (
        ReportDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=claimed_at))
        .update(status=DeliveryStatus.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1)
    )
    if not claimed:
        status = ReportDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return status or "missing"
    delivery = ReportDelivery.objects.select_related(
        "subscription__owner", "subscription__template", "requested_by"
    ).get(pk=delivery_id)
    mine = _claimed(delivery.pk, claimed_at)
    subscription = delivery.subscription
    if subscription is not None and not subscription.is_active and delivery.requested_by_id is None:
        # A retry (or a first attempt) beat started before the subscription was switched off.
        if mine.update(status=DeliveryStatus.SKIPPED, last_error=DEACTIVATED, next_attempt_at=None):
            logger.info("Report delivery %s skipped: its subscription was deactivated", delivery.pk)
        return _status_of(delivery.pk)
    try:
        if delivery.data is None:
            delivery.data = _build(delivery)
            mine.update(data=delivery.data)
        data: dict[str, Any] = delivery.data
        if data.get("is_empty") and subscription is not None and subscription.skip_if_empty:
            if mine.update(status=DeliveryStatus.SKIPPED, last_error=EMPTY_PERIOD, next_attempt_at=None):
                logger.info("Report delivery %s skipped: no data in %s", delivery.pk, _period_text(delivery))
            return _status_of(delivery.pk)
        if not delivery.pdf:
            from reporting.rendering import render_pdf

            pdf = render_pdf(data, _template_html(subscription.template if subscription else None))
            delivery.pdf.save(pdf_filename(delivery), ContentFile(pdf), save=False)
            mine.update(pdf=delivery.pdf.name)
        recipients = list(delivery.recipients or [])
        errors = validate_recipients(delivery.delivery_method, recipients)
        if errors:
            raise _SendFailure(" ".join(errors), permanent=True)
        # The send is the last step: everything that can fail without anyone noticing happened above.
        if delivery.delivery_method == DeliveryMethod.SLACK:
            _send_slack(delivery, data, recipients, mine)
        else:
            _send_email(delivery, data, recipients)
    except _SendFailure as exc:
        return _record_failure(delivery, claimed_at, str(exc), permanent=exc.permanent)
    except Exception as exc:  # building or rendering broke; it may pass (a database hiccup, a time limit)
        logger.exception("Report delivery %s: attempt %s failed", delivery.pk, delivery.attempts)
        return _record_failure(delivery, claimed_at, f"{type(exc).__name__}: {exc}", permanent=False)
    if not mine.update(status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None):
        # Our claim was taken from us (we outlived REPORT_SENDING_TIMEOUT_SECONDS): the recovery
        # already scheduled it again, and it will be sent twice. The time limit is there to prevent this.
        logger.error("Report delivery %s was sent after its claim had been recovered", delivery.pk)
    return _status_of(delivery.pk)


def _claimed(delivery_id: int, claimed_at: datetime) -> Any:
    """The delivery's row while it is still held by the claim made at `claimed_at` (a QuerySet whose
    update() changes nothing once the claim was recovered by someone else)."""
    return ReportDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING, claimed_at=claimed_at)


def _status_of(delivery_id: int) -> str:
    return ReportDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first() or "missing"


def _build(delivery: ReportDelivery) -> dict[str, Any]:
    from reporting.content import build_report

    return build_report(
        delivery.report_type,
        delivery.period_start,
        delivery.period_end,
        team_id=delivery.team_id,
        agent_id=delivery.agent_id,
        timezone=delivery.timezone or None,
    )


def _period_text(delivery: ReportDelivery) -> str:
    if delivery.data and (delivery.data.get("period") or {}).get("label"):
        return str(delivery.data["period"]["label"])
    if delivery.period_start == delivery.period_end:
        return delivery.period_start.isoformat()
    return f"{delivery.period_start.isoformat()} – {delivery.period_end.isoformat()}"


def _report_name(delivery: ReportDelivery) -> str:
    if delivery.subscription is not None:
        return delivery.subscription.name
    return str((delivery.data or {}).get("title") or "Ad-hoc report")


def _email_context(delivery: ReportDelivery, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data.get("title") or _report_name(delivery),
        "heading": data.get("heading") or data.get("title") or _report_name(delivery),
        "period": _period_text(delivery),
        "scope": (data.get("scope") or {}).get("label") or "",
        "summary": data.get("summary") or [],
        "is_empty": bool(data.get("is_empty")),
        "empty_message": data.get("empty_message") or "There were no calls, conversations or leads in this period.",
        "subscription": delivery.subscription,
        "filename": pdf_filename(delivery),
    }


def _send_email(delivery: ReportDelivery, data: dict[str, Any], recipients: list[str]) -> None:
    context = _email_context(delivery, data)
    message = EmailMultiAlternatives(
        subject=context["title"],
        body=render_to_string("reporting/email_report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,  # one message, one SMTP transaction: all recipients get it or none
        connection=get_connection(timeout=settings.REPORT_NETWORK_TIMEOUT_SECONDS),
    )
    message.attach_alternative(render_to_string("reporting/email_report.html", context), "text/html")
    with delivery.pdf.open("rb") as handle:
        message.attach(pdf_filename(delivery), handle.read(), "application/pdf")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise _SendFailure(f"The mail server did not take the report: {_smtp_reason(exc)}", permanent=False) from exc


def _smtp_reason(exc: Exception) -> str:
    """An SMTP failure as a person reads it: "a@example.com: 550 5.1.1 Mailbox unavailable"."""

    def text(raw: bytes | str) -> str:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code} {text(reply)}" for rcpt, (code, reply) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _send_slack(delivery: ReportDelivery, data: dict[str, Any], recipients: list[str], mine: Any) -> None:
    """Post to every webhook that has not taken this report yet, each recorded in `delivered_to` as it
    answers, so that a retry posts only to the ones that failed. Every webhook is tried in each attempt;
    the attempt fails if any failed, for good only if every failure was for good (a 404 hook)."""
    url, expires = pdf_link(delivery)
    zone = ZoneInfo(delivery.timezone or settings.TIME_ZONE)
    payload = slack.report_message(data, url, expires.astimezone(zone))
    delivered = list(delivery.delivered_to or [])
    failures: list[slack.SlackError] = []
    for webhook in recipients:
        if webhook in delivered:
            continue
        try:
            slack.post_message(webhook, payload)
        except slack.SlackError as exc:
            failures.append(exc)
            continue
        delivered.append(webhook)
        mine.update(delivered_to=delivered)
    delivery.delivered_to = delivered
    if failures:
        permanent = all(exc.permanent for exc in failures)
        reasons = " ".join(str(exc) for exc in failures)
        if delivered:
            took = f"{len(delivered)} of {len(recipients)} webhooks took it"
            reasons += f" ({took}.)" if permanent else f" ({took}; a retry posts only to the others.)"
        raise _SendFailure(reasons, permanent=permanent)


def _record_failure(
    delivery: ReportDelivery, claimed_at: datetime, error: str, *, permanent: bool, retry_at: datetime | None = None
) -> str:
    """A failed attempt: back to pending with a retry time, or failed for good (and the owner told)."""
    attempts = ReportDelivery.objects.filter(pk=delivery.pk).values_list("attempts", flat=True).first() or 0
    mine = _claimed(delivery.pk, claimed_at)
    if permanent or attempts >= settings.REPORT_MAX_ATTEMPTS:
        final = error if permanent else f"{error} (gave up after {attempts} attempt{'' if attempts == 1 else 's'})"
        if mine.update(status=DeliveryStatus.FAILED, last_error=final, next_attempt_at=None):
            logger.warning("Report delivery %s failed: %s", delivery.pk, final)
            _notify_owner(delivery, final, attempts)
        return _status_of(delivery.pk)
    next_attempt_at = retry_at or timezone.now() + retry_delay(attempts)
    if mine.update(status=DeliveryStatus.PENDING, last_error=error, next_attempt_at=next_attempt_at):
        logger.info(
            "Report delivery %s: attempt %s failed (%s); next at %s", delivery.pk, attempts, error, next_attempt_at
        )
        _enqueue_retry(delivery.pk, next_attempt_at)
    return _status_of(delivery.pk)


def _enqueue_retry(delivery_id: int, when: datetime) -> None:
    """On real workers the retry is also queued with its countdown (it arrives on time); eager tasks
    would run it at once and find it not due, so there only the dispatcher (every minute) sends it."""
    from reporting.tasks import send_delivery as send_delivery_task

    if send_delivery_task.app.conf.task_always_eager:
        return
    countdown = max((when - timezone.now()).total_seconds(), 0)
    transaction.on_commit(lambda: send_delivery_task.apply_async((delivery_id,), countdown=countdown))


def _notify_owner(delivery: ReportDelivery, error: str, attempts: int) -> None:
    """Tell the subscription's owner (an ad-hoc report: who asked for it) that a report was not sent;
    without an e-mail address, the ADMINS, else the log. Never raises: it runs on the failure path."""
    owner = delivery.subscription.owner if delivery.subscription is not None else delivery.requested_by
    context = {
        "name": _report_name(delivery),
        "period": _period_text(delivery),
        "method": delivery.get_delivery_method_display(),
        "recipients": delivery.recipients,
        "attempts": attempts,
        "error": error,
        "owner": owner,
        "subscription": delivery.subscription,
        "delivery_id": delivery.pk,
    }
    subject = f"Report not delivered: {context['name']} · {context['period']}"
    body = render_to_string("reporting/email_failure.txt", context)
    try:
        if owner is not None and owner.email:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email])
        elif settings.ADMINS:
            mail_admins(subject, body)
        else:
            logger.error("%s (no owner e-mail address and no ADMINS to tell):\n%s", subject, body)
    except (smtplib.SMTPException, OSError):
        # Often the same mail server that just failed the report; the log is what is left.
        logger.exception("%s: telling the owner failed too:\n%s", subject, body)
