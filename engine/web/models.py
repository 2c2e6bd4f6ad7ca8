"""Request and response bodies of the JSON API, so ``/docs`` describes what the routes take and give.

Text fields refuse NUL and unpaired surrogates (a database cannot store
them) and every time is checked to be ISO 8601 within years 1971-2199, so
bad input is a 422 naming the field, never a 500 further in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from engine.dispatch.preview import EVENT_ALIASES

MIN_YEAR, MAX_YEAR = 1971, 2199
MAX_DELAY_MINUTES = 366 * 24 * 60
PREVIEW_EVENTS = EVENT_ALIASES


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _iso_time(value: str) -> str:
    _clean(value)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            "expected an ISO 8601 time such as 2026-11-24T10:00 or 2026-11-24T10:00+01:00"
        ) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


Text = Annotated[StrictStr, AfterValidator(_clean)]
IsoTime = Annotated[
    StrictStr,
    AfterValidator(_iso_time),
    Field(description="ISO 8601; without an offset it is wall-clock time in the booking's zone."),
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Scalar = Text | StrictBool | StrictInt | FiniteFloat
Money = Annotated[
    Annotated[Text, Field(max_length=32)] | StrictInt | FiniteFloat,
    Field(description='An amount in the business\'s currency: 3450, 12.5 or "3 450,00".'),
]
FactName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", max_length=64)]
Locale = Literal["nb", "da", "en"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------


class CustomerIn(_In):
    name: Annotated[Text, Field(max_length=200)] | None = None
    phone: Annotated[Text, Field(max_length=40)] | None = Field(
        default=None, description="E.164 or national (the business's country)."
    )
    email: Annotated[Text, Field(max_length=254)] | None = None
    locale: Locale | None = None
    marketing_ok: StrictBool | None = None


class BookingFields(_In):
    ref: Annotated[Text, Field(min_length=1, max_length=100)]
    customer: CustomerIn = Field(default_factory=CustomerIn)
    start: IsoTime | None = None
    end: IsoTime | None = None
    timezone: Annotated[Text, Field(max_length=64)] | None = None
    location: Annotated[Text, Field(max_length=2000)] | None = None
    facts: dict[FactName, Scalar | None] = Field(
        default_factory=dict, description="Declared in the playbook's `facts:`; null removes one."
    )
    assignee: Annotated[Text, Field(max_length=100)] | None = Field(
        default=None, description='Who does the job (a technician); "" clears it, absent keeps it.'
    )


class BookingIn(BookingFields):
    """Create (201) or update (200) the booking ``ref``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ref": "WO-4711",
                    "playbook": "car_service",
                    "customer": {
                        "name": "Kari Nordmann",
                        "phone": "912 34 567",
                        "email": "kari@example.com",
                        "locale": "nb",
                    },
                    "start": "2026-11-24T10:00",
                    "end": "2026-11-24T14:00",
                    "facts": {"vehicle": "Toyota Corolla", "registration": "EK 12345", "estimate": 3450},
                }
            ]
        },
    )

    playbook: Annotated[Text, Field(min_length=1, max_length=100)]


class ImportItem(BookingFields):
    playbook: Annotated[Text, Field(min_length=1, max_length=100)] | None = None


class ImportIn(_In):
    playbook: Annotated[Text, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The playbook of items that name none."
    )
    bookings: list[ImportItem] = Field(max_length=10_000)


class AssignIn(_In):
    assignee: Annotated[Text, Field(max_length=100)] | None = Field(
        description='Who does the job (a technician); null or "" clears it.'
    )


class AtIn(_In):
    at: IsoTime | None = Field(default=None, description="When it happened; default: the engine clock.")


class DelayIn(AtIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"minutes": 30, "reason": "An earlier job took longer"}]},
    )

    minutes: Annotated[StrictInt, Field(ge=1, le=MAX_DELAY_MINUTES)] | None = None
    until: IsoTime | None = None
    reason: Annotated[Text, Field(max_length=500)] | None = None


class RescheduleIn(AtIn):
    start: IsoTime
    end: IsoTime | None = None


class ReadyIn(AtIn):
    price: Money | None = None
    pickup: IsoTime | None = None
    confirm_price: StrictBool = Field(
        default=False, description="Send a price above the estimate plus approved extras (else 409)."
    )


class CompleteIn(AtIn):
    price: Money | None = None
    confirm_price: StrictBool = Field(
        default=False,
        description="Send a price above the estimate plus approved extras (else 409, for playbooks "
        "with no ready step).",
    )


class OnMyWayIn(AtIn):
    eta: IsoTime | None = Field(
        default=None, description="Expected arrival, after now and within 12 h; default the expected start."
    )


class CancelIn(AtIn):
    reason: Annotated[Text, Field(max_length=500)] | None = None


class FindingIn(AtIn):
    text: Annotated[Text, Field(min_length=1, max_length=1000)]
    price: Money | None = None
    must_fix: StrictBool = False


class PreviewCustomer(_In):
    name: Annotated[Text, Field(min_length=1, max_length=200)] = "Kari Nordmann"
    phone: Annotated[Text, Field(max_length=40)] | None = "+4791234567"
    email: Annotated[Text, Field(max_length=254)] | None = "kari.nordmann@example.com"


class PreviewEventIn(_In):
    name: Literal[PREVIEW_EVENTS]  # type: ignore[valid-type]
    at: IsoTime
    data: dict[Annotated[str, Field(pattern=r"^[a-z_]+$", max_length=32)], Scalar | None] = Field(
        default_factory=dict
    )


class PreviewIn(_In):
    start: IsoTime
    end: IsoTime | None = None
    timezone: Annotated[Text, Field(max_length=64)] | None = None
    locale: Locale | None = None
    created: IsoTime | None = Field(default=None, description="When the booking is made; default: now.")
    customer: PreviewCustomer = Field(default_factory=PreviewCustomer)
    facts: dict[FactName, Scalar | None] = Field(default_factory=dict)
    events: list[PreviewEventIn] = Field(default_factory=list, max_length=20)


# --- responses --------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    error: ErrorBody


class CustomerOut(BaseModel):
    name: str | None
    phone: str | None
    email: str | None
    locale: str | None
    marketing_ok: bool


class MessageOut(BaseModel):
    id: str
    booking: str
    step: str
    channel: str
    status: str
    reason: str | None
    due_at: str | None
    due_at_utc: str | None
    sent_at: str | None
    next_attempt_at: str | None
    attempts: int
    to: str | None
    subject: str | None
    body: str | None
    replaces: str | None


class FindingOut(BaseModel):
    id: str
    text: str
    price: str | None
    must_fix: bool
    decision: str


class BookingOut(BaseModel):
    ref: str
    id: str
    playbook: str
    status: str
    confirmed: bool
    start: str
    end: str
    promised_start: str
    promised_end: str
    timezone: str
    location: str | None
    delay_minutes: int
    delay_reason: str | None
    final_price: str | None
    score: int | None
    customer: CustomerOut
    facts: dict[str, Any]
    choices: dict[str, Any]
    assignee: str | None = None
    findings: list[FindingOut]
    messages: list[MessageOut]


class BookResultOut(BookingOut):
    created: bool
    changed: bool


class HistoryOut(BaseModel):
    at: str
    kind: str
    detail: str | None
    message: str | None
    actor: str = Field(
        description='Who did it: a staff name, "staff", "token:<name>", "customer:sms", '
        '"customer:page", "cli:<user>" or "system".'
    )


class ImportErrorOut(BaseModel):
    line: int = Field(description="CSV: the file's line; JSON: the item's position, from 1.")
    field: str | None
    message: str


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: list[ImportErrorOut]


class StepOut(BaseModel):
    id: str
    when: str | None
    at: str | None
    channels: list[str]
    template: str
    urgent: bool


class OptionOut(BaseModel):
    id: str
    choices: list[str]
    label: str = Field(description="In the business's default locale.")
    labels: dict[str, str] = Field(description="Per locale the playbook lists.")


class FactOut(BaseModel):
    type: str
    required: bool


class PlaybookOut(BaseModel):
    id: str
    title: str = Field(description="In the business's default locale.")
    titles: dict[str, str] = Field(description="Per locale the playbook lists.")
    default_locale: str
    locales: list[str]
    timezone: str | None
    promise: str
    default_duration: str
    channels: list[str]
    facts: dict[str, FactOut]
    options: list[OptionOut]
    steps: list[StepOut]


class PreviewRowOut(BaseModel):
    step: str
    channel: str
    status: str
    reason: str | None
    send_at: str | None
    send_at_utc: str | None
    subject: str | None
    body: str | None
    encoding: str | None
    segments: int | None
    attachments: list[str]


class StepFiguresOut(BaseModel):
    """One playbook step's messages in the period (engine/store/step_figures.py)."""

    step: str
    planned: int
    sent: int
    delivered: int
    failed: int
    failed_by_reason: dict[str, int]
    skipped: int
    skipped_by_reason: dict[str, int]
    cancelled: int
    pending: int
    replies: int


class WindowOut(BaseModel):
    minutes: int
    bookings: int
    kept: int
    kept_rate: float | None


class CalibrationOut(BaseModel):
    """How often each promised window width was kept, and the width that would have kept 90%."""

    promise: Literal["arrival", "ready"]
    measured: int
    enough: bool
    min_bookings: int
    target_rate: float
    windows: list[WindowOut]
    suggested_window_minutes: int | None
    suggested_kept_rate: float | None
    sentence: str


class ReportOut(BaseModel):
    since: str | None
    until: str | None
    overall: dict[str, Any]
    playbooks: dict[str, dict[str, Any]]
    steps: dict[str, list[StepFiguresOut]]
    calibration: dict[str, CalibrationOut]
    assignees: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="The same metrics as per playbook, for each assignee's bookings."
    )
    assignee_calibration: dict[str, dict[str, CalibrationOut]] = Field(
        default_factory=dict, description="Each assignee's promise calibration, per playbook."
    )


class HealthOut(BaseModel):
    status: Literal["ok"]
    now: str
