"""Phone numbers, email addresses and names: normalise or refuse, naming the field (pure)."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
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


def normalise_email(raw: str, *, field: str = "email", allow_smtputf8: bool = False) -> str:
    """The address as stored; refused when no channel could ever deliver to it.

    Our SMTP path does not speak SMTPUTF8, so a non-ASCII local part
    (``kåre@``) would pass here and then fail every send as a retried
    ``email:exception``. ``allow_smtputf8`` is for finding addresses stored
    before this check, never for storing new ones.
    """
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=allow_smtputf8)
    except EmailNotValidError as exc:
        raise UserInputError(f"{field}: {raw!r} is not a valid email address ({exc})", field=field) from exc
    return result.normalized


# Control characters (CR, LF, TAB, NUL, DEL, C1), lone surrogates and the Unicode line and
# paragraph separators: a name goes into the email's To header, where any of them fails the send.
_NOT_IN_NAMES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_name(name: str, *, field: str = "name") -> str:
    """A customer's name as given, refused if it holds a character no header or SMS line can carry."""
    for char in name:
        if unicodedata.category(char) in _NOT_IN_NAMES:
            raise UserInputError(
                f"{field}: must not contain control characters or line breaks (found U+{ord(char):04X})",
                field=field,
            )
    return name


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
