"""The business profile (``business.yaml``): who sends, from where, in which zone."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.core import safe_yaml, timing
from engine.core.playbooks import LOCALES, QuietHoursSpec
from engine.core.webhook_events import WebhookSpec
from engine.exceptions import ConfigurationError, UserInputError

_ALPHANUMERIC_SENDER = r"^[A-Za-z0-9 ]{1,11}$"


DEFAULT_HOURS = "08:00-16:00"


class OpeningHours(BaseModel):
    """``mon: "08:00-16:00"`` per weekday; a day left out (or ``null``) is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mon: str | None = None
    tue: str | None = None
    wed: str | None = None
    thu: str | None = None
    fri: str | None = None
    sat: str | None = None
    sun: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _days(cls, data: Any) -> Any:
        for day in data if isinstance(data, dict) else ():
            if day not in timing.WEEKDAYS:
                raise PydanticCustomError(
                    "opening_hours", "unknown day {day} (use mon, tue, ...)", {"day": repr(day)}
                )
        return data

    @field_validator(*timing.WEEKDAYS)
    @classmethod
    def _span(cls, value: str | None) -> str | None:
        if value is not None:
            opening_span(value)
        return value

    def spans(self) -> dict[int, tuple[time, time]]:
        """Weekday (0 = Monday) to (opens, closes), for the open days only."""
        out: dict[int, tuple[time, time]] = {}
        for index, day in enumerate(timing.WEEKDAYS):
            value = getattr(self, day)
            if value is not None:
                out[index] = opening_span(value)
        return out


def opening_span(value: str) -> tuple[time, time]:
    """``"08:00-16:00"`` as (opens, closes); a pydantic error says what is expected."""
    opens, sep, closes = str(value).partition("-")
    try:
        if not sep:
            raise ValueError(value)
        first, last = timing.parse_local_time(opens.strip()), timing.parse_local_time(closes.strip())
    except ValueError:
        raise PydanticCustomError(
            "opening_hours",
            'expected opening hours such as "08:00-16:00", got {value}',
            {"value": repr(value)},
        ) from None
    if last <= first:
        raise PydanticCustomError(
            "opening_hours",
            "closes at {closes} before it opens at {opens}",
            {"opens": opens, "closes": closes},
        )
    return first, last


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
    # Self-service booking: the hours slots lie in (default: open_days 08:00-16:00), the grid
    # they start on, and how many bookings of one playbook may overlap (a playbook may override).
    hours: OpeningHours | None = None
    slot_minutes: int = Field(default=30, ge=5, le=24 * 60)
    capacity: int = Field(default=1, ge=1, le=1000)
    webhooks: list[WebhookSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _open_days_from_hours(cls, data: Any) -> Any:
        # Given hours name the open days; open_days alone keeps its meaning for the messages.
        if isinstance(data, dict) and isinstance(data.get("hours"), dict) and "open_days" not in data:
            days = [d for d in timing.WEEKDAYS if data["hours"].get(d) is not None]
            return {**data, "open_days": days}
        return data

    @field_validator("hours")
    @classmethod
    def _hours_agree(cls, value: OpeningHours | None, info: ValidationInfo) -> OpeningHours | None:
        open_days = info.data.get("open_days")
        if value is not None and open_days is not None:
            with_hours = [timing.WEEKDAYS[i] for i in sorted(value.spans())]
            if set(with_hours) != set(open_days):
                raise PydanticCustomError(
                    "opening_hours",
                    "the days with hours ({hours}) differ from open_days ({open_days})",
                    {"hours": ", ".join(with_hours) or "none", "open_days": ", ".join(open_days) or "none"},
                )
        return value

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
    def opening_hours(self) -> dict[int, tuple[time, time]]:
        """Weekday (0 = Monday) to (opens, closes): ``hours``, else ``open_days`` at 08:00-16:00."""
        if self.hours is not None:
            return self.hours.spans()
        span = opening_span(DEFAULT_HOURS)
        return {day: span for day in sorted(self.open_weekdays)}

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
