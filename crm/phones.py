"""Phone numbers: everything stored is E.164 (+48123456789). Shared by calls and WhatsApp."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

WHATSAPP_PREFIX = "whatsapp:"


def to_e164(raw: str, region: str | None = None) -> str:
    """Parse a number as a person or Twilio writes it and return it in E.164.

    Accepts "+48 600 100 200", "600100200" (in DEFAULT_PHONE_REGION) and "whatsapp:+48600100200".
    Raises ValidationError with a sentence a person can act on.
    """
    text = (raw or "").strip()
    if text.lower().startswith(WHATSAPP_PREFIX):
        text = text[len(WHATSAPP_PREFIX) :]
    if not text:
        raise ValidationError("A phone number is required.", code="phone_required")
    try:
        number = phonenumbers.parse(text, region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{raw!r} is not a phone number.", code="phone_invalid") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!r} is not a valid phone number.", code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    """Model-field validator: the stored value must already be normalised E.164."""
    if to_e164(value) != value:
        raise ValidationError(f"{value!r} must be written in E.164 form, e.g. +48600100200.", code="phone_format")
