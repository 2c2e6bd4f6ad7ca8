"""The HTML part of an email: its ``<style>`` rules moved into ``style=`` attributes (pure).

Templates and the shared layout (templates/_shared/email_layout.html.j2)
style with classes in one ``<style>`` element; many mail clients drop such
an element, or parts of it, while every client reads style attributes. The
inliner loads nothing: ``<link>`` stylesheets and ``@import`` are dropped.
"""

from __future__ import annotations

import re
from typing import Final

import css_inline

from engine.core.limits import LimitExceeded
from engine.messages.limits import MAX_CSS_MATCHES

_INLINER: Final = css_inline.CSSInliner(load_remote_stylesheets=False)
_STYLE: Final = re.compile(r"<style[\s>]", re.IGNORECASE)


def inline_css(html: str) -> str:
    """``html`` with the rules of its ``<style>`` elements inlined and the elements removed.

    HTML without a ``<style>`` element is returned as it is. Matching every
    rule against every element is bounded by ``MAX_CSS_MATCHES``.
    """
    if not _STYLE.search(html):
        return html
    matches = html.count("<") * html.count("{")  # elements times rules, from above
    if matches > MAX_CSS_MATCHES:
        raise LimitExceeded(
            f"the HTML has too many elements and CSS rules to inline ({matches} matches;"
            f" at most {MAX_CSS_MATCHES})"
        )
    return _INLINER.inline(html)
