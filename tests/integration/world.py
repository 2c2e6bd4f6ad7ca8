"""A test world: the real engine on a SQLite file, the seed playbooks, memory channels, a fixed clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.channels.memory import MemoryChannel
from engine.core.clock import FixedClock
from engine.dispatch.dispatcher import Dispatcher
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import Settings
from engine.store.tables import MessageRow

REPO = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FixedClock(MONDAY_NOON)
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'forvent.db'}",
            playbooks_dir=REPO / "playbooks",
            templates_dir=REPO / "templates",
            business_file=REPO / "business.yaml",
            secret="test-secret",
        )
        self.rt = Runtime(settings, clock=self.clock)
        self.rt.database.upgrade()
        self.service = BookingService(self.rt)
        self.sms = MemoryChannel("sms")
        self.email = MemoryChannel("email")
        self.dispatcher = Dispatcher(self.rt, {"sms": self.sms, "email": self.email})

    def at(self, *args: int) -> None:
        self.clock.set(datetime(*args, tzinfo=OSLO))  # type: ignore[misc]

    def book(self, ref: str = "C-1", playbook: str = "car_service", **changes: object) -> None:
        data = BookingInput(
            ref=ref,
            playbook=playbook,
            name="Kari Nordmann",
            phone="+4791234567",
            email="kari@example.com",
            start="2026-11-26T10:00",
            end="2026-11-26T14:00",
            locale="nb",
            facts={"vehicle": "Toyota Corolla"} if playbook == "car_service" else {"task": "Tett avløp"},
        )
        for key, value in changes.items():
            setattr(data, key, value)
        self.service.book(data)

    def rows(self, ref: str = "C-1") -> list[MessageRow]:
        with self.rt.database.session() as s:
            booking = self.service.get(s, ref)
            return list(s.query(MessageRow).filter_by(booking_id=booking.id).order_by(MessageRow.id))

    def row(self, step: str, channel: str = "sms", ref: str = "C-1") -> MessageRow:
        found = [r for r in self.rows(ref) if r.step == step and r.channel == channel]
        assert found, f"no {step}/{channel} row in {[(r.step, r.channel) for r in self.rows(ref)]}"
        return found[-1]

    def close(self) -> None:
        self.dispatcher.close()
        self.rt.close()
