"""The business profile (``business.yaml``): who sends, from where, in which zone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.core import safe_yaml, timing
from engine.core.playbooks import LOCALES, QuietHoursSpec
from engine.core.webhook_events import WebhookSpec
from engine.exceptions import ConfigurationError, UserInputError

_ALPHANUMERIC_SENDER = r"^[A-Za-z0-9 ]{1,11}$"


class BusinessProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = "default"
    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    website: str | None = None
    review_url: str | None = None
    logo_url: str | None = None  # an http(s) image shown at the top of HTML emails
    timezone: str = "Europe/Oslo"
    default_locale: str = "nb"
    country: str = "NO"
    currency: str = "NOK"
    prices_include_vat: bool = True
    sms_sender: str | None = None
    email_from: str | None = None
    staff_phone: str | None = None
    staff_email: str | None = None
    quiet_hours: QuietHoursSpec | None = None
    open_days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    closed_dates: list[date] = Field(default_factory=list)
    webhooks: list[WebhookSpec] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            timing.zone(value)
        except UserInputError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        # Mail clients fetch it from the open internet: an http(s) address, nothing local.
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"logo_url must be an http(s) address of an image, got {value!r}")
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"unsupported locale {value!r}")
        return value

    @field_validator("open_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for day in value:
            if day not in timing.WEEKDAYS:
                raise ValueError(f"unknown day {day!r} (use mon, tue, ...)")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f'country must be a two-letter region such as "NO", got {value!r}')
        return value.upper()

    @property
    def sms_two_way(self) -> bool:
        """An alphanumeric sender cannot receive replies."""
        sender = self.sms_sender or ""
        return not sender or sender.lstrip("+").isdigit()

    @property
    def open_weekdays(self) -> frozenset[int]:
        return frozenset(timing.WEEKDAYS.index(d) for d in self.open_days)

    @property
    def from_address(self) -> str:
        return self.email_from or self.email or "noreply@localhost"

    def sending_as(self, email_from: str | None) -> BusinessProfile:
        """This profile with ``email_from`` (``FORVENT_EMAIL_FROM``) as its sender when it is given."""
        return self.model_copy(update={"email_from": email_from}) if email_from else self


SAMPLE_BUSINESS = BusinessProfile(
    name="Sample Service AS",
    phone="+4722000000",
    email="post@example.com",
    address="Storgata 1, 0155 Oslo",
    website="https://example.com",
    review_url="https://example.com/review",
    sms_sender="+4759440000",
    email_from="post@example.com",
    staff_phone="+4791000000",
    staff_email="staff@example.com",
)


def load_business(path: Path) -> BusinessProfile:
    """Read ``business.yaml``; errors name the file and the field."""
    try:
        _, data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise ConfigurationError(
            f"{path}: no business profile (give --business FILE or set FORVENT_BUSINESS_FILE)"
        ) from exc
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}:1: cannot read: not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        line, problem = safe_yaml.describe(exc)
        raise ConfigurationError(f"{path}:{line}: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}:1: the business profile is a mapping of keys")
    try:
        return BusinessProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        value = first.get("input")
        hint = " (quote it: YAML reads NO as false)" if isinstance(value, bool) else ""
        raise ConfigurationError(f"{path}: {where}: {first['msg']}{hint}", field=where) from exc
