"""``forvent lint``: playbooks and their templates, as ``file:line: message``.

Errors make the exit status 1; warnings (SMS encoding and length, reply words
with a one-way sender) are printed but do not fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from engine.core import conditions, timing
from engine.core.business import BusinessProfile
from engine.core.context import Links, build_context
from engine.core.playbooks import LoadedPlaybook, Playbook, StepSpec, load_playbook
from engine.core.values import Booking, Customer, Event
from engine.exceptions import PlaybookError, TemplateRenderError
from engine.messages.renderer import Renderer
from engine.messages.template_lint import check_template_source

SHARED_TEMPLATES: dict[str, tuple[str, ...]] = {
    "cancelled": ("sms", "email"),
    "moved": ("sms", "email"),
    "invite_update": ("email",),
    # Answers from the customer's page are confirmed by email to a customer SMS does not reach.
    **{f"reply_{c}": ("sms", "email") for c in ("confirm", "decline", "change", "choice")},
    **{f"reply_{c}": ("sms",) for c in ("stop", "start", "score")},
}
#: The ready-later notice the engine sends itself for a ``promise: ready`` playbook with no step for it.
READY_DELAYED_TEMPLATES: dict[str, tuple[str, ...]] = {"ready_delayed": ("sms", "email")}
REPLY_WORDS = re.compile(r"\b(JA|NEI|NEJ|YES|NO|ENDRE|ÆNDR|CHANGE|STOPP?|AVMELD|AFMELD|START)\b")
SAMPLE_VALUES: dict[str, Any] = {
    "text": "Eksempel",
    "money": 1990,
    "bool": True,
    "number": 1,
    "date": "2026-11-24",
}


@dataclass
class LintReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Linter:
    def __init__(self, templates_dir: Path, business: BusinessProfile) -> None:
        self.templates_dir = templates_dir
        self.business = business
        self.renderer = Renderer(templates_dir)
        self._checked: set[str] = set()

    def lint(self, path: Path) -> LintReport:
        report = LintReport()
        try:
            loaded = load_playbook(path)
        except PlaybookError as exc:
            report.errors.extend(exc.problems)
            return report
        playbook = loaded.playbook
        # As with templates: a listed locale needs its own text, else its customers read another language.
        for where, text in playbook.texts():
            if missing := text.missing(playbook.all_locales):
                report.errors.append(
                    f"{path}:{loaded.line_of(*where)}: {'.'.join(map(str, where))}: no text for "
                    f"{', '.join(missing)} (the playbook's locales: {', '.join(playbook.all_locales)})"
                )
        for index, step in enumerate(playbook.steps):
            line = loaded.line_of("steps", index)
            for expression, _ in step.condition_sources:
                try:
                    conditions.check(expression)
                    self._sample_condition(playbook, step, expression)
                except conditions.ConditionError as exc:
                    report.errors.append(f"{path}:{line}: step {step.id}: {exc}")
            for locale in playbook.all_locales:
                for kind in self._kinds(playbook, step):
                    self._template(
                        report,
                        loaded,
                        step.template,
                        kind,
                        locale,
                        f"{path}:{line}: step {step.id}",
                    )
        for locale in playbook.all_locales:
            for template, kinds in _shared_templates(playbook).items():
                for kind in kinds:
                    self._template(report, loaded, template, kind, locale, f"{path}:1: shared", shared=True)
        if not report.errors:
            self._sample_sms(report, loaded)
        return report

    def _sample_condition(self, playbook: Playbook, step: StepSpec, expression: str) -> None:
        """Evaluate ``expression`` on the sample booking: a condition over its limits fails here.

        Only ``ConditionError`` counts: other errors can come from the sample's values
        (a price that is none yet) and say nothing about real bookings.
        """
        booking = sample_booking(playbook, self.business, playbook.default_locale)
        context = build_context(
            booking=booking,
            title=playbook.title_in(booking.locale),
            business=self.business,
            links=Links.placeholder(self.business),
            step_id=step.id,
            channel=(playbook.step_channels(step) or ["sms"])[0],
            event=sample_event(step.when, booking.created_at),
            now=booking.created_at,
        )
        try:
            conditions.evaluate(expression, context)
        except conditions.ConditionError:
            raise
        except (TypeError, ValueError, ArithmeticError, LookupError, TemplateError):
            return  # the sample's values, not the condition, may be at fault

    @staticmethod
    def _kinds(playbook: Playbook, step: StepSpec) -> list[str]:
        kinds = list(playbook.step_channels(step))
        if step.invite_spec is not None and "email" not in kinds:
            kinds.append("email")
        return kinds

    def _template(
        self,
        report: LintReport,
        loaded: LoadedPlaybook,
        template: str,
        kind: str,
        locale: str,
        where: str,
        *,
        shared: bool = False,
    ) -> None:
        playbook = loaded.playbook
        folder = "_shared" if shared else playbook.playbook
        # A listed locale needs its own template: at run time a missing one would
        # silently fall back to the default language. A playbook's own copy of a
        # shared template is the one its messages use, so it is the one checked.
        name = self.renderer.resolve(playbook.playbook, template, kind, locale, locale)  # type: ignore[arg-type]
        if name is None:
            report.errors.append(
                f"{where}: missing template {template}.{kind}.j2 for locale {locale} "
                f"(looked in {self.templates_dir}/{folder}/{locale}/ and fallbacks)"
            )
            return
        if name in self._checked:
            return
        self._checked.add(name)
        file = self.templates_dir / name
        for line, message in check_template_source(
            file, file.read_text(encoding="utf-8"), declared_facts=set(playbook.facts), kind=kind
        ):
            report.errors.append(f"{file}:{line}: {message}")

    def _sample_sms(self, report: LintReport, loaded: LoadedPlaybook) -> None:
        playbook = loaded.playbook
        for locale in playbook.all_locales:
            booking = sample_booking(playbook, self.business, locale)
            for index, step in enumerate(playbook.steps):
                if "sms" not in playbook.step_channels(step):
                    continue
                context = build_context(
                    booking=booking,
                    title=playbook.title_in(locale),
                    business=self.business,
                    links=Links.placeholder(self.business),
                    step_id=step.id,
                    channel="sms",
                    event=sample_event(step.when, booking.created_at),
                    now=booking.created_at,
                )
                where = f"{loaded.path}:{loaded.line_of('steps', index)}: step {step.id} ({locale})"
                try:
                    sms = self.renderer.render_sms(
                        playbook.playbook, step.template, locale, playbook.default_locale, context
                    )
                except TemplateRenderError as exc:
                    report.errors.append(f"{where}: sample render failed: {exc}")
                    continue
                if sms.encoding != "GSM-7":
                    report.warnings.append(f"{where}: warning: sample SMS is UCS-2 (70 characters a segment)")
                if sms.segments > 2:
                    report.warnings.append(f"{where}: warning: sample SMS is {sms.segments} segments")
                if not self.business.sms_two_way and REPLY_WORDS.search(sms.body):
                    report.warnings.append(
                        f"{where}: warning: asks for an SMS reply but the sender "
                        f"{self.business.sms_sender!r} is alphanumeric (one-way)"
                    )


def _shared_templates(playbook: Playbook) -> dict[str, tuple[str, ...]]:
    if playbook.promise == "ready" and not playbook.steps_for("job.ready_delayed"):
        return {**SHARED_TEMPLATES, **READY_DELAYED_TEMPLATES}
    return SHARED_TEMPLATES


def sample_booking(playbook: Playbook, business: BusinessProfile, locale: str) -> Booking:
    tz = timing.zone(playbook.timezone or business.timezone)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=tz)
    facts = {name: SAMPLE_VALUES[spec.type] for name, spec in playbook.facts.items() if spec.required}
    return Booking(
        id="1",
        ref="SAMPLE-1",
        playbook=playbook.playbook,
        customer=Customer(name="Kari Nordmann", phone="+4791234567", email="kari@example.com", locale=locale),
        start=start,
        end=timing.shift(start, 1, playbook.duration, tz),
        promised_start=start,
        promised_end=timing.shift(start, 1, playbook.duration, tz),
        timezone=tz.key,
        locale=locale,
        created_at=(start - timedelta(days=3)).astimezone(UTC),
        facts=facts,
    )


SAMPLE_EVENT_DATA: dict[str, dict[str, Any]] = {
    "booking.delayed": {"minutes": 30, "until": None, "reason": "Forsinkelse"},
    "booking.rescheduled": {"start": None, "end": None},
    "booking.cancelled": {"reason": None},
    "job.finding": {"text": "Slitte bremseklosser foran", "price": "2890.00", "must_fix": True},
    "job.ready": {"price": "4990.00", "pickup": None},
    "job.ready_delayed": {"minutes": 60, "until": None, "reason": "Venter på en del"},
    "job.completed": {"price": "4990.00"},
    "customer.replied": {"text": "Takk"},
    "customer.scored": {"score": 9},
    "customer.detractor": {"score": 3, "text": "Dårlig service", "source": "sms"},
    "customer.promoter": {"score": 10, "source": "sms"},
    "staff.on_my_way": {"eta": "2026-11-24T09:50:00+01:00"},
}


def sample_event(name: str | None, at: datetime) -> Event | None:
    """The event a ``when:`` step renders with, so a sample render sees ``event.data``."""
    if name is None:
        return None
    return Event(id="0", name=name, at=at, data=SAMPLE_EVENT_DATA.get(name, {}))
