"""``forvent demo``: a local demo business with sample bookings, served with the file channels.

Everything lives under ``./demo/``: the SQLite database (recreated on each
run, so the sample bookings are always fresh and relative to now) and the
outbox where every SMS (``*.sms.json``) and email (``*.eml``) lands. The
repository's ``business.yaml``, ``playbooks/`` and ``templates/`` are used
(from the current folder, else from beside the installed package).
``FORVENT_SECRET`` defaults to a fixed demo secret and the staff password to
``demo``: this is a demo, never a deployment.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.core import timing
from engine.dispatch.dispatcher import PassStats
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import Settings

DEMO_DIR = Path("demo")
DEMO_SECRET = "forvent-demo-secret-not-for-production"
DEMO_PASSWORD = "demo"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Sample:
    """One sample booking: hours from the current hour (or a time tomorrow), and what happens to it."""

    ref: str
    playbook: str
    name: str
    phone: str
    email: str
    locale: str
    start: float | str  # hours from the current hour, or "tomorrow HH:MM"
    hours: float
    facts: dict[str, Any]
    then: tuple[tuple[str, dict[str, Any]], ...] = field(default=())


SAMPLES = (
    Sample(
        "CS-1001",
        "car_service",
        "Kari Nordmann",
        "+4791234567",
        "kari.nordmann@example.com",
        "nb",
        -2,
        4,
        {
            "vehicle": "Toyota Corolla",
            "registration": "EK 12345",
            "work": "EU-kontroll og 60 000 km-service",
            "estimate": 3450,
        },
        (
            ("start", {"after": 0.1}),
            (
                "finding",
                {"text": "Bremseklossene foran er slitt ned til 2 mm", "price": "1890", "must_fix": True},
            ),
        ),
    ),
    Sample(
        "CS-1002",
        "car_service",
        "Oliver Smith",
        "+4792345678",
        "oliver.smith@example.com",
        "en",
        -3,
        3,
        {"vehicle": "Volkswagen Golf", "registration": "DN 54321", "estimate": 4290},
        (("start", {"after": 0.2}), ("ready", {"price": "4290"})),
    ),
    Sample(
        "PV-2001",
        "plumber_visit",
        "Ola Hansen",
        "+4793456789",
        "ola.hansen@example.com",
        "nb",
        1,
        1,
        {"task": "Tett avløp på badet", "access_notes": "Kode 1234, 3. etasje"},
        (("delay", {"minutes": 30, "reason": "Forrige jobb tok lengre tid"}),),
    ),
    Sample(
        "PV-2002",
        "plumber_visit",
        "Mette Jensen",
        "+4522334455",
        "mette.jensen@example.com",
        "da",
        3,
        1,
        {"task": "Utæt blandingsbatteri i køkkenet"},
    ),
    Sample(
        "CS-1003",
        "car_service",
        "Søren Nielsen",
        "+4523456789",
        "soren.nielsen@example.com",
        "da",
        4,
        3,
        {"vehicle": "Skoda Octavia", "registration": "AB 98765"},
        (("confirm", {}),),
    ),
    Sample(
        "CS-1004",
        "car_service",
        "Ingrid Berg",
        "+4794567890",
        "ingrid.berg@example.com",
        "nb",
        "08:00",
        4,
        {"vehicle": "Tesla Model 3", "registration": "EL 11223", "rental_car": True},
    ),
    Sample(
        "PV-2003",
        "plumber_visit",
        "Emma Wilson",
        "+4795678901",
        "emma.wilson@example.com",
        "en",
        "10:00",
        1,
        {"task": "Install a new dishwasher"},
    ),
    Sample(
        "PV-2004",
        "plumber_visit",
        "Per Olsen",
        "+4796789012",
        "per.olsen@example.com",
        "nb",
        "13:00",
        1,
        {"task": "Bytte varmtvannsbereder"},
    ),
)


def demo_settings(base: Settings, root: Path = DEMO_DIR, *, public_url: str | None = None) -> Settings:
    """The demo's settings: its own database and outbox, file channels, demo secret and password."""

    def here_or_repo(path: Path, name: str) -> Path:
        return path if path.exists() else REPO / name

    return base.model_copy(
        update={
            "database_url": f"sqlite:///{root / 'forvent.db'}",
            "outbox_dir": root / "outbox",
            "secret": base.secret or DEMO_SECRET,
            "staff_password": base.staff_password or DEMO_PASSWORD,
            "sms_channel": "file",
            "email_channel": "file",
            "playbooks_dir": here_or_repo(base.playbooks_dir, "playbooks"),
            "templates_dir": here_or_repo(base.templates_dir, "templates"),
            "business_file": here_or_repo(base.business_file, "business.yaml"),
            "public_url": public_url or base.public_url,
        }
    )


def reset(root: Path) -> None:
    """A fresh demo: no database, no outbox."""
    for suffix in ("", "-wal", "-shm"):
        (root / f"forvent.db{suffix}").unlink(missing_ok=True)
    shutil.rmtree(root / "outbox", ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)


def _start(runtime: Runtime, sample: Sample) -> datetime:
    tz = timing.zone(runtime.business.timezone)
    local = runtime.now().astimezone(tz)
    if isinstance(sample.start, str):
        clock = datetime.strptime(sample.start, "%H:%M").time()
        return timing.wall(datetime.combine(local.date() + timedelta(days=1), clock), tz)
    hour = local.replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=sample.start)


def book_samples(runtime: Runtime) -> None:
    service = BookingService(runtime)
    for sample in SAMPLES:
        start = _start(runtime, sample)
        service.book(
            BookingInput(
                ref=sample.ref,
                playbook=sample.playbook,
                name=sample.name,
                phone=sample.phone,
                email=sample.email,
                locale=sample.locale,
                start=start,
                end=start + timedelta(hours=sample.hours),
                facts=sample.facts,
            ),
            allow_past=True,
        )
        for action, args in sample.then:
            _apply(service, sample.ref, start, action, dict(args))


def _apply(service: BookingService, ref: str, start: datetime, action: str, args: dict[str, Any]) -> None:
    now = service.rt.now()
    if action == "start":
        service.start(ref, at=min(start + timedelta(hours=args["after"]), now))
    elif action == "finding":
        service.finding(ref, **args)
    elif action == "ready":
        service.ready(ref, **args)
    elif action == "delay":
        service.delay(ref, **args)
    elif action == "confirm":
        service.confirm(ref, source="sms")


def dispatch_once(runtime: Runtime) -> PassStats:
    from engine.channels.factory import build_channels
    from engine.dispatch.dispatcher import Dispatcher

    channels = build_channels(runtime)
    dispatcher = Dispatcher(runtime, channels)
    try:
        return dispatcher.run_until_idle()
    finally:
        dispatcher.close()
        for channel in channels.values():
            channel.close()


def customer_link(runtime: Runtime, ref: str) -> str:
    with runtime.database.session() as session:
        booking_id = BookingService(runtime).get(session, ref).id
    return f"{runtime.settings.public_url}/b/{runtime.signer.token(booking_id, now=runtime.now())}"


def prepare(runtime: Runtime, root: Path) -> dict[str, Any]:
    """Recreate the demo database, book the samples, send what is due; say where to look."""
    reset(root)
    runtime.database.upgrade()
    book_samples(runtime)
    stats = dispatch_once(runtime)
    outbox = runtime.settings.outbox_dir
    return {
        "staff": f"{runtime.settings.public_url}/staff",
        "password": runtime.settings.staff_password,
        "customer": customer_link(runtime, "CS-1001"),
        "outbox": str(outbox),
        "sms": len(list(outbox.glob("*.sms.json"))),
        "emails": len(list(outbox.glob("*.eml"))),
        "sent": stats.sent,
        "database": runtime.settings.database_url,
        "bookings": [s.ref for s in SAMPLES],
    }
