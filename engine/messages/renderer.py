"""Sandboxed Jinja rendering in the customer's language (pure).

A :class:`Renderer` renders the templates of one directory (SPEC "Playbooks",
"Templates"; docs/templates.md). Templates resolve, first hit wins, from
``<playbook>/<locale>/``, ``<playbook>/<default_locale>/``,
``_shared/<locale>/`` and ``_shared/<default_locale>/``. They run in Jinja's
immutable sandbox with ``StrictUndefined``: a typo is an error, an absent fact
is undefined (test it with ``is defined``), and a template can neither reach
Python internals nor change the context it was given.

SMS bodies, email subjects and text, and invite texts are plain text: nothing
is HTML-escaped. Only an email's HTML renders with autoescaping, through an
overlay of the same environment: its ``html`` block, or the layout it extends
(templates/_shared/email_layout.html.j2) filled with its ``content`` block.
The CSS of the HTML's ``<style>`` element is then inlined
(engine/messages/email_html.py).

Every error raised while rendering is a ``TemplateRenderError`` whose message
starts with ``<template file>:<line>:``. That includes going over a limit
(engine/messages/limits.py, engine/core/limits.py): a template that loops or
recurses without end, or builds a huge text, fails its one message within
seconds instead of hanging the dispatcher, ``lint`` or ``preview``. A Renderer
is a snapshot: it reads, resolves and compiles each template once and keeps
it, so a render costs tens of microseconds; build a new Renderer to pick up
edited templates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from jinja2 import (
    BaseLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    nodes,
)

from engine.core.limits import LimitExceeded
from engine.core.sandbox import BoundedEnvironment
from engine.exceptions import TemplateRenderError
from engine.messages.email_html import inline_css
from engine.messages.filters import FILTERS
from engine.messages.limits import MAX_EMAIL_BYTES, MAX_SMS_SEGMENTS, MessageBudget, streamed
from engine.messages.sms import sms_info

Kind = Literal["sms", "email", "ics"]

#: Blocks an email and an invite template must define; an email may add ``html``.
REQUIRED_BLOCKS: Final[Mapping[str, tuple[str, ...]]] = {
    "email": ("subject", "text"),
    "ics": ("summary", "description"),
}
OPTIONAL_BLOCKS: Final[Mapping[str, tuple[str, ...]]] = {"email": ("html",), "ics": ()}
#: Blocks of the email layout, which an email template that extends it may fill.
LAYOUT_BLOCKS: Final = ("brand", "content")

_BLANK_LINES: Final = re.compile(r"\n(?:[ \t]*\n){2,}")
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, kw_only=True)
class RenderedSms:
    body: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int


@dataclass(frozen=True, kw_only=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True, kw_only=True)
class RenderedIcs:
    summary: str
    description: str


def template_environment(loader: BaseLoader | None) -> BoundedEnvironment:
    """The bounded sandbox with the locale filters, as templates are rendered and linted."""
    env = BoundedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,  # plain text; the html renders through an escaping overlay
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # a Renderer is a snapshot: no stat() per render
        cache_size=-1,  # bounded by the files on disk: never evict and recompile
        text_filters=FILTERS,
    )
    env.filters.update(FILTERS)
    return env


# What a template can raise while rendering: Jinja's own errors, and what
# filters and operators raise on values of the wrong kind.
_RENDER_ERRORS: Final = (
    TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    LimitExceeded,
)
_RECURSION: Final = (
    "recursion too deep: a macro that calls itself without end,"
    " or a template that includes, imports or extends itself"
)


def _where(exc: BaseException, fallback: str) -> str:
    """``file:line`` of the innermost template frame of ``exc``'s traceback."""
    where = fallback
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, Template):
            line = template.get_corresponding_lineno(tb.tb_lineno)
            where = f"{template.filename or template.name}:{line}"
        tb = tb.tb_next
    return where


@contextmanager
def _reported(root: Path, name: str) -> Iterator[None]:
    """Errors of rendering template ``name`` under ``root`` as ``TemplateRenderError``."""
    try:
        yield
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or root / name}:{exc.lineno}"
        raise TemplateRenderError(f"{where}: {exc.message}") from exc
    except _RENDER_ERRORS as exc:
        raise TemplateRenderError(f"{_where(exc, f'{root / name}:1')}: {exc}") from exc
    except RecursionError as exc:
        raise TemplateRenderError(f"{_where(exc, f'{root / name}:1')}: {_RECURSION}") from exc
    except MemoryError as exc:
        raise TemplateRenderError(f"{_where(exc, f'{root / name}:1')}: out of memory") from exc


def _tidy(text: str) -> str:
    """Strip, and collapse the runs of blank lines that skipped ``{% if %}`` blocks leave."""
    return _BLANK_LINES.sub("\n\n", text.strip())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _on_channel(context: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """``context`` whose ``step.channel`` is the channel being rendered, which the filters read."""
    step = context.get("step")
    return {**context, "step": {**(step if isinstance(step, Mapping) else {}), "channel": channel}}


class Renderer:
    """Renders the templates under ``templates_dir``; safe to share between threads.

    ``playbook`` is a playbook id or ``_shared``; ``template`` a template name
    from a step (``confirmation``). ``context`` is the template context of
    docs/templates.md: plain dicts, lists and aware datetimes.
    """

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        self._loader = FileSystemLoader(self.templates_dir)
        self._env = template_environment(self._loader)
        self._html_env = self._env.overlay(autoescape=True)
        self._resolved: dict[tuple[str, str, str, str, str], str | None] = {}
        self._extending: dict[str, bool] = {}

    def resolve(
        self, playbook: str, template: str, kind: Kind, locale: str, default_locale: str
    ) -> str | None:
        """The loader name (``car_service/nb/reminder.sms.j2``) of the first file found, or None."""
        key = (playbook, template, kind, locale, default_locale)
        if key not in self._resolved:
            self._resolved[key] = self._find(*key)
        return self._resolved[key]

    def _find(self, playbook: str, template: str, kind: str, locale: str, default: str) -> str | None:
        # Names come from playbooks and bookings: only plain names may become paths.
        if not all(_PLAIN_NAME.fullmatch(part) for part in (template, locale, default)):
            return None
        if playbook != "_shared" and not _PLAIN_NAME.fullmatch(playbook):
            return None
        for folder in dict.fromkeys((playbook, "_shared")):
            for language in dict.fromkeys((locale, default)):
                name = f"{folder}/{language}/{template}.{kind}.j2"
                if (self.templates_dir / name).is_file():
                    return name
        return None

    def _require(self, playbook: str, template: str, kind: Kind, locale: str, default_locale: str) -> str:
        name = self.resolve(playbook, template, kind, locale, default_locale)
        if name is None:
            raise TemplateRenderError(
                f"no template {template}.{kind}.j2 for playbook {playbook}, locale {locale}: "
                f"looked in {playbook}/{locale}/, {playbook}/{default_locale}/, "
                f"_shared/{locale}/ and _shared/{default_locale}/ under {self.templates_dir}",
                field="template",
            )
        return name

    def _extends(self, name: str) -> bool:
        """True when template ``name`` extends another (the email layout): read once."""
        if name not in self._extending:
            source, _, _ = self._loader.get_source(self._env, name)
            self._extending[name] = self._env.parse(source, name).find(nodes.Extends) is not None
        return self._extending[name]

    def _render(self, name: str, context: Mapping[str, Any], budget: MessageBudget) -> str:
        with _reported(self.templates_dir, name):
            template = self._env.get_template(name)
            return streamed(template.root_render_func(template.new_context(dict(context))), budget)

    def _blocks(
        self, name: str, context: Mapping[str, Any], blocks: tuple[str, ...], budget: MessageBudget
    ) -> dict[str, str | None]:
        """The named blocks of template ``name``, None for an absent one."""
        with _reported(self.templates_dir, name):
            template = self._env.get_template(name)
            ctx = template.new_context(dict(context))
            return {
                block: streamed(template.blocks[block](ctx), budget) if block in template.blocks else None
                for block in blocks
            }

    def _html(self, name: str, context: Mapping[str, Any], budget: MessageBudget) -> str | None:
        """The email's HTML, CSS inlined: its ``html`` block, else the layout it extends, else None."""
        with _reported(self.templates_dir, name):
            template = self._html_env.get_template(name)
            ctx = template.new_context(dict(context))
            if "html" in template.blocks:
                html = streamed(template.blocks["html"](ctx), budget).strip()
            elif self._extends(name):
                html = streamed(template.root_render_func(ctx), budget).strip()
            else:
                return None
            return inline_css(html) if html else None

    def _required(self, name: str, kind: Kind, found: Mapping[str, str | None]) -> dict[str, str]:
        for block in REQUIRED_BLOCKS[kind]:
            if found[block] is None:
                path = self.templates_dir / name
                raise TemplateRenderError(f"{path}:1: missing {{% block {block} %}} in {kind} template")
        return {block: text or "" for block, text in found.items()}

    def render_sms(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedSms:
        """The SMS body: stripped, at most one blank line in a row, filters in GSM-7.

        A body of more than ``MAX_SMS_SEGMENTS`` segments is a ``TemplateRenderError``.
        """
        name = self._require(playbook, template, "sms", locale, default_locale)
        with MessageBudget() as budget:
            body = _tidy(self._render(name, _on_channel(context, "sms"), budget))
        info = sms_info(body)
        if info.segments > MAX_SMS_SEGMENTS:
            raise TemplateRenderError(
                f"{self.templates_dir / name}:1: the SMS is {info.segments} segments "
                f"({info.units} {info.encoding} units); at most {MAX_SMS_SEGMENTS} are sent",
                field="template",
            )
        return RenderedSms(body=body, encoding=info.encoding, segments=info.segments)

    def render_email(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedEmail:
        """Subject on one line, tidied text, and the autoescaped HTML or None.

        An email of more than ``MAX_EMAIL_BYTES`` is a ``TemplateRenderError``.
        """
        name = self._require(playbook, template, "email", locale, default_locale)
        context = _on_channel(context, "email")
        with MessageBudget() as budget:
            found = self._blocks(name, context, ("subject", "text"), budget)
            text = self._required(name, "email", found)
            subject = _one_line(text["subject"])
            # The layout's <title> shows the subject already rendered, not a second render of it.
            html = self._html(name, {**context, "email_subject": subject}, budget) or ""
        email = RenderedEmail(subject=subject, text=_tidy(text["text"]), html=html or None)
        parts = (email.subject, email.text, html)
        if 4 * sum(map(len, parts)) > MAX_EMAIL_BYTES:  # else it fits: UTF-8 takes at most 4 bytes
            size = sum(len(part.encode("utf-8", "surrogatepass")) for part in parts)
            if size > MAX_EMAIL_BYTES:
                raise TemplateRenderError(
                    f"{self.templates_dir / name}:1: the email is {size} bytes; "
                    f"at most {MAX_EMAIL_BYTES} are sent",
                    field="template",
                )
        return email

    def render_ics(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedIcs | None:
        """The invite's summary and description, or None when there is no ``.ics.j2``."""
        name = self.resolve(playbook, template, "ics", locale, default_locale)
        if name is None:
            return None
        with MessageBudget() as budget:
            found = self._blocks(name, context, REQUIRED_BLOCKS["ics"], budget)
        blocks = self._required(name, "ics", found)
        return RenderedIcs(summary=_one_line(blocks["summary"]), description=_tidy(blocks["description"]))
