"""The budget of one message render (docs/templates.md, "Limits").

The limits of what a template may build and loop over are shared with
playbook conditions and live in engine/core/limits.py; these are the ones
only a message has: its time, its length, its segments and bytes.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Final

from engine.core.limits import Budget, LimitExceeded

#: Wall-clock budget of one render call (an SMS, an email, an invite's texts). Jinja
#: cannot be interrupted from outside and a dispatcher renders in worker threads (no
#: signals), so the template checks the clock as it runs: at every loop iteration,
#: call, filter and intercepted operator.
MAX_RENDER_SECONDS: Final = 2.0
#: An SMS body of more segments than this is a template error.
MAX_SMS_SEGMENTS: Final = 10
#: An email whose subject, text and html come to more than this in UTF-8 is a template error.
MAX_EMAIL_BYTES: Final = 1_000_000
#: Characters one render call may output, before tidying.
MAX_OUTPUT_CHARS: Final = MAX_EMAIL_BYTES
#: Elements times CSS rules of an HTML email whose ``<style>`` is inlined: about a
#: third of a second of matching. An email has hundreds; only a hostile one has more.
MAX_CSS_MATCHES: Final = 10_000_000


class MessageBudget(Budget):
    """The budget of one render call, with the characters it may still output."""

    __slots__ = ("output",)

    def __init__(self) -> None:
        super().__init__(seconds=MAX_RENDER_SECONDS)
        self.output = MAX_OUTPUT_CHARS


def streamed(chunks: Iterator[str], budget: MessageBudget) -> str:
    """The output of a template or block, up to ``MAX_OUTPUT_CHARS`` for the message."""
    parts: list[str] = []
    append, left = parts.append, budget.output
    for chunk in chunks:
        left -= len(chunk)
        if left < 0:
            exc = LimitExceeded(f"the message is longer than {MAX_OUTPUT_CHARS} characters")
            if isinstance(chunks, Generator):  # raised inside: the traceback names the line
                chunks.throw(exc)
            raise exc
        append(chunk)
    budget.output = left
    return "".join(parts)
