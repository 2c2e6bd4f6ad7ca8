"""A reply counts for the text the customer answered even when the engine clock is frozen, as
in the README's tour: the text, her reply and the answer to it all carry the same instant."""

from __future__ import annotations

import json

from engine.services.inbound import Inbound
from tests.integration.test_report_steps import cli_report
from tests.integration.world import World


def test_a_score_on_a_frozen_clock_answers_the_review_request_not_the_call_back_it_earned(
    world: World,
) -> None:
    world.book(ref="P-100", playbook="plumber_visit", start="2026-11-24T10:00", end="2026-11-24T10:30")
    world.dispatcher.run_until_idle()  # Mon 12:00: the confirmation
    world.at(2026, 11, 24, 14, 0)
    world.service.complete("P-100")
    world.at(2026, 11, 24, 16, 0)
    world.dispatcher.run_until_idle()  # the review request, 16:00
    assert Inbound(world.rt).reply("+4791234567", "3 dårlig service").action == "score"
    world.dispatcher.run_until_idle()  # the call-back offer and the staff alert, still 16:00
    call_back = world.row("recovery_call_back", ref="P-100")
    assert call_back.sent_at == world.row("review_request", ref="P-100").sent_at

    steps = {row["step"]: row for row in json.loads(cli_report(world, "--json"))["steps"]["plumber_visit"]}
    assert steps["review_request"]["replies"] == 1
    assert steps["recovery_call_back"]["sent"] == 1
    assert steps["recovery_call_back"]["replies"] == 0
