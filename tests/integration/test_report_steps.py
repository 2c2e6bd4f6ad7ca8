"""The report's messages per step and promise calibration, from bookings driven as staff and
customers drive them: the engine's own services on a fixed clock, then ``forvent report``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.channels.base import OutgoingMessage
from engine.cli.main import cli
from engine.exceptions import PermanentChannelError
from engine.services.inbound import Inbound
from engine.services.on_my_way import on_my_way
from engine.store.report import report
from tests.integration.world import OSLO, REPO, World

PLUMBER_STEPS = [
    "confirmation",
    "reminder_day_before",
    "on_my_way",
    "delay_notice",
    "completion_summary",
    "review_request",
    "recovery_call_back",
    "review_link",
]
ANNA, BJORN, CECILIE = "+4791111111", "+4792222222", "+4793333333"


def run_report(world: World, locale: str = "nb") -> dict[str, Any]:
    playbooks = {pid: world.rt.playbooks.get(pid) for pid in world.rt.playbooks.ids()}
    with world.rt.database.session() as s:
        return report(
            s,
            business_id=world.rt.business.id,
            promises={pid: pb.promise for pid, pb in playbooks.items()},
            since=datetime(2026, 11, 20, tzinfo=OSLO),
            until=datetime(2026, 12, 1, tzinfo=OSLO),
            step_ids={pid: [step.id for step in pb.steps] for pid, pb in playbooks.items()},
            locale=locale,
        )


def cli_report(world: World, *options: str, db: str | None = None, playbooks: Path | None = None) -> str:
    """``forvent report`` over the test week, on the world's database and the seed playbooks unless told."""
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            db or world.rt.settings.database_url,
            "--playbooks",
            str(playbooks or REPO / "playbooks"),
            "--templates",
            str(REPO / "templates"),
            "--business",
            str(REPO / "business.yaml"),
            *options,
            "report",
            "--since",
            "2026-11-20T00:00",
            "--until",
            "2026-12-01T00:00",
            "--now",
            "2026-11-30T12:00:00+01:00",
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def three_plumber_visits(world: World) -> None:
    """Anna confirms by SMS, is visited and scores 9; Bjørn's number cannot take the "on my
    way" text and he is visited late after a delay notice; Cecilie was booked for the next
    morning, too soon for a reminder, and her "on my way" text never reached her phone."""

    def bjorns_phone_refuses_on_my_way(message: OutgoingMessage) -> None:
        if message.to == BJORN and message.step == "on_my_way":
            raise PermanentChannelError("invalid number", channel="sms", provider_code="21211")

    world.sms.fault = bjorns_phone_refuses_on_my_way
    for ref, phone in (("ANNA", ANNA), ("BJORN", BJORN)):
        world.book(
            ref=ref,
            playbook="plumber_visit",
            phone=phone,
            email=f"{ref.lower()}@example.com",
            end="2026-11-26T11:00",
        )
    world.book(
        ref="CECILIE",
        playbook="plumber_visit",
        phone=CECILIE,
        email="cecilie@example.com",
        start="2026-11-24T09:00",
        end="2026-11-24T10:00",
    )
    world.dispatcher.run_until_idle()  # Mon 12:00: three confirmations by email and SMS
    world.at(2026, 11, 23, 13, 0)
    assert Inbound(world.rt).reply(ANNA, "JA").action == "confirm"
    world.dispatcher.run_until_idle()  # the reply_confirm acknowledgement
    world.at(2026, 11, 24, 8, 15)
    on_my_way(world.service, "CECILIE")  # the plumber sets off
    world.dispatcher.run_until_idle()  # Cecilie's "on my way"
    inbound = Inbound(world.rt)
    assert (
        inbound.status_callback(str(world.row("on_my_way", ref="CECILIE").id), "undelivered", "30003")
        == "failed"
    )
    world.at(2026, 11, 24, 9, 10)
    world.service.start("CECILIE")
    world.at(2026, 11, 25, 17, 0)
    world.dispatcher.run_until_idle()  # Anna's and Bjørn's reminders
    assert (
        inbound.status_callback(str(world.row("reminder_day_before", ref="ANNA").id), "delivered", None)
        == "delivered"
    )
    world.at(2026, 11, 26, 9, 15)
    on_my_way(world.service, "ANNA")
    on_my_way(world.service, "BJORN")
    world.dispatcher.run_until_idle()  # "on my way" to Anna; Bjørn's number refuses it
    world.at(2026, 11, 26, 9, 30)
    world.service.delay("BJORN", minutes=60, reason="forrige jobb tok lengre tid")
    world.dispatcher.run_until_idle()
    world.at(2026, 11, 26, 12, 0)
    world.service.start("ANNA", at="2026-11-26T10:20")
    world.service.start("BJORN", at="2026-11-26T11:15")
    world.service.complete("ANNA", at="2026-11-26T12:00")
    world.dispatcher.run_until_idle()  # Anna's completion summary
    world.at(2026, 11, 26, 14, 0)
    world.dispatcher.run_until_idle()  # Anna's review request
    world.at(2026, 11, 26, 14, 30)
    assert inbound.reply(ANNA, "9").action == "score"
    world.at(2026, 11, 26, 14, 31)  # a pass after her reply: her 9 answers the review request
    world.dispatcher.run_until_idle()  # the review link her 9 earned


def figures(**given: Any) -> dict[str, Any]:
    zero: dict[str, Any] = {
        "planned": 0,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "failed_by_reason": {},
        "skipped": 0,
        "skipped_by_reason": {},
        "cancelled": 0,
        "pending": 0,
        "replies": 0,
    }
    return zero | given


def test_every_step_says_what_it_planned_sent_lost_and_got_back(world: World) -> None:
    three_plumber_visits(world)
    steps = run_report(world)["steps"]["plumber_visit"]
    # The playbook's steps in its order, then the shared ones by name.
    assert [row["step"] for row in steps] == [*PLUMBER_STEPS, "invite_update", "reply_confirm"]
    by_step = {row.pop("step"): row for row in steps}
    # Email and SMS to all three (deliver: all); Anna's JA answers the confirmation SMS.
    assert by_step["confirmation"] == figures(planned=6, sent=6, replies=1)
    # Cecilie was booked 21 h before her visit: the day-before reminder would have come
    # 16 h before it, within skip_if_created_within: 20h. Anna's was reported delivered.
    assert by_step["reminder_day_before"] == figures(
        planned=3, sent=2, delivered=1, skipped=1, skipped_by_reason={"created_recently": 1}
    )
    # Bjørn's number refused it (nothing sent); Cecilie's was sent, then reported undelivered.
    assert by_step["on_my_way"] == figures(
        planned=3, sent=2, failed=2, failed_by_reason={"sms:21211": 1, "sms:30003": 1}
    )
    assert by_step["delay_notice"] == figures(planned=1, sent=1)  # Bjørn's, by SMS
    assert by_step["invite_update"] == figures(planned=1, sent=1)  # his calendar's new time, by email
    assert by_step["completion_summary"] == figures(planned=1, sent=1)  # Anna's, by email
    assert by_step["review_request"] == figures(planned=1, sent=1, replies=1)  # her 9 answers it
    # Answers to her replies are not what a customer answers: no replies of their own. Her 9
    # is answered by the playbook's review link, a step that planned nothing for the others.
    assert by_step["reply_confirm"] == by_step["review_link"] == figures(planned=1, sent=1)
    assert by_step["recovery_call_back"] == figures()


def test_steps_the_cli_and_its_json_agree(world: World) -> None:
    three_plumber_visits(world)
    data = json.loads(cli_report(world, "--json"))
    assert data["steps"] == run_report(world)["steps"]
    assert data["overall"]["bookings"] == 3  # the metrics stay beside the new sections
    text = cli_report(world)
    assert "plumber_visit: messages per step" in text
    on_my_way = next(line for line in text.splitlines() if "on_my_way" in line)
    assert "2 (sms:21211 1, sms:30003 1)" in on_my_way
    assert "plumber_visit: For få avtaler til å kalibrere ankomstvinduene ennå: 3 målt, 10 trengs." in text


# Minutes after 10:00 each plumber came: ten 10:00-10:30 windows and two 10:00-11:00 ones.
THIRTY = (5, 10, 20, 30, 30, 35, 40, 50, 55, 80)
SIXTY = (45, 70)


def twelve_plumber_visits_and_two_car_services(world: World) -> None:
    ends = ["2026-11-26T10:30"] * len(THIRTY) + ["2026-11-26T11:00"] * len(SIXTY)
    for n, end in enumerate(ends):
        world.book(ref=f"P-{n}", playbook="plumber_visit", end=end)
    world.book(ref="P-CANCELLED", playbook="plumber_visit", end="2026-11-26T10:30")
    world.book(ref="C-1", playbook="car_service")  # 10:00-14:00, ready promised by 14:00
    world.book(ref="C-2", playbook="car_service")
    world.service.cancel("P-CANCELLED")  # never started: not a promise kept or broken
    world.at(2026, 11, 26, 16, 0)  # staff report the day's events in the afternoon
    for n, minutes in enumerate((*THIRTY, *SIXTY)):
        world.service.start(f"P-{n}", at=f"2026-11-26T{10 + minutes // 60:02d}:{minutes % 60:02d}")
    world.service.start("C-1", at="2026-11-26T10:00")
    world.service.ready("C-1", at="2026-11-26T13:30")  # C-2 is not ready yet


def test_calibration_from_known_windows_and_event_times(world: World) -> None:
    twelve_plumber_visits_and_two_car_services(world)
    calibration = run_report(world, locale="en")["calibration"]
    plumber = calibration["plumber_visit"]
    assert (plumber["promise"], plumber["measured"], plumber["enough"]) == ("arrival", 12, True)
    assert plumber["windows"] == [
        {"minutes": 30, "bookings": 10, "kept": 5, "kept_rate": 0.5},
        {"minutes": 60, "bookings": 2, "kept": 1, "kept_rate": 0.5},
    ]
    # The 11th earliest of 12 arrivals (90%) was 70 minutes after 10:00: 75-minute windows.
    assert (plumber["suggested_window_minutes"], plumber["suggested_kept_rate"]) == (75, 0.9167)
    assert plumber["sentence"] == (
        "Your 30-minute arrival windows were kept 50% of the time; "
        "75-minute windows would have been kept 91%."
    )
    car = calibration["car_service"]
    assert (car["promise"], car["measured"], car["enough"]) == ("ready", 1, False)
    assert car["windows"] == [{"minutes": 240, "bookings": 1, "kept": 1, "kept_rate": None}]
    assert car["suggested_window_minutes"] is None
    assert car["sentence"] == "Too few bookings to calibrate the ready-by windows yet: 1 measured, 10 needed."


def test_calibration_in_the_business_language_through_the_cli(world: World) -> None:
    twelve_plumber_visits_and_two_car_services(world)
    data = json.loads(cli_report(world, "--json"))
    assert data["calibration"]["plumber_visit"]["sentence"] == (
        "Ankomstvinduene på 30 minutter ble holdt i 50\u00a0% av tilfellene; "
        "vinduer på 75 minutter ville blitt holdt i 91\u00a0%."
    )
    # The promise metrics are the same bookings seen whole: 6 of 12 plumbers were on time.
    assert data["playbooks"]["plumber_visit"]["kept_rate"] == 0.5
    text = cli_report(world)
    assert "plumber_visit: Ankomstvinduene på 30 minutter ble holdt i 50" in text
    assert "  30-minute windows: 10 bookings, 50% kept" in text
    assert "  4-hour windows: 1 booking, -" in text
