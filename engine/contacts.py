"""Phone numbers and email addresses: normalise or refuse, naming the field (pure)."""

from __future__ import annotations

import hashlib

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from engine.exceptions import UserInputError

_SMS_CAPABLE = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.UNKNOWN,  # some plans (and test ranges) are not typed; let the provider judge
}


def normalise_phone(raw: str, *, country: str, field: str = "phone") -> str:
    """E.164 for a national number ("912 34 567") or an international one; mobiles only."""
    try:
        number = phonenumbers.parse(raw, country)
    except NumberParseException as exc:
        raise UserInputError(f"{field}: {raw!r} is not a phone number", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise UserInputError(f"{field}: {raw!r} is not a valid phone number", field=field)
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise UserInputError(
            f"{field}: {raw!r} is not a mobile number, so it cannot receive SMS", field=field
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str, *, field: str = "email") -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UserInputError(f"{field}: {raw!r} is not a valid email address ({exc})", field=field) from exc


def address_hash(channel: str, address: str) -> str:
    """One-way hash under which an opt-out survives the person's erasure."""
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()
