"""Phone numbers and email addresses: normalise or refuse, naming the field (pure)."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from engine.exceptions import ConfigurationError, UserInputError

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


def address_hash(channel: str, address: str, secret: str | None) -> str:
    """One-way hash under which an opt-out survives the person's erasure, keyed with ``FORVENT_SECRET``.

    Without the key, a copy of the database would give every opted-out number
    back: Norway's mobile numbers are few enough to hash them all in seconds.
    """
    return rekey(unkeyed_address_hash(channel, address), secret)


def unkeyed_address_hash(channel: str, address: str) -> str:
    """The hash opt-outs were stored under before they were keyed (migration 0003)."""
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()


def rekey(unkeyed: str, secret: str | None) -> str:
    # The HMAC covers the unkeyed digest rather than the address, so stored
    # unkeyed rows can be re-keyed without knowing whose they were.
    if not secret:
        raise ConfigurationError("FORVENT_SECRET is not set: it keys the opt-out hashes")
    return hmac.new(_opt_out_key(secret), unkeyed.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _opt_out_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"forvent-opt-out", hashlib.sha256).digest()
