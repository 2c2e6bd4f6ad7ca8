"""HTML emails: every seed email is one well-formed page of the shared layout, its CSS inlined."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.core.business import SAMPLE_BUSINESS, BusinessProfile
from engine.core.context import Links, build_context
from engine.core.playbooks import load_playbook
from engine.exceptions import TemplateRenderError
from engine.messages.lint import SAMPLE_EVENT_DATA, sample_booking, sample_event
from engine.messages.renderer import Renderer
from engine.messages.template_lint import check_template_source

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
LOGO = "https://fjordbyen.example.com/logo.png"
LOGO_BUSINESS = SAMPLE_BUSINESS.model_copy(update={"name": "Ærlig Bil & Rør AS", "logo_url": LOGO})
# Elements HTML writes without an end tag.
VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)


class _Structure(HTMLParser):
    """Checks that every element is closed, in order, and notes what the page holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.seen: list[str] = []
        self.styled = 0
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        self.styled += any(name == "style" for name, _ in attrs)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def structure(html: str) -> _Structure:
    parser = _Structure()
    parser.feed(html)
    parser.close()
    return parser


@cache
def seed_renderer() -> Renderer:
    return Renderer(TEMPLATES)  # compiled once for both businesses


def seed_emails(business: BusinessProfile) -> list[tuple[str, str]]:
    """(where, html) of every seed email, for every playbook, locale and sample event."""
    renderer = seed_renderer()
    found = []
    for path in sorted((REPO / "playbooks").glob("*.yaml")):
        playbook = load_playbook(path).playbook
        for locale in playbook.all_locales:
            booking = sample_booking(playbook, business, locale)
            for template in sorted(TEMPLATES.glob(f"*/{locale}/*.email.j2")):
                folder, name = template.parts[-3], template.name.removesuffix(".email.j2")
                if folder not in (playbook.playbook, "_shared"):
                    continue
                for event in [None, *SAMPLE_EVENT_DATA]:
                    context = build_context(
                        booking=booking,
                        title=playbook.title,
                        business=business,
                        links=Links.placeholder(business),
                        step_id=name,
                        channel="email",
                        event=sample_event(event, booking.created_at),
                        now=booking.created_at,
                    )
                    try:
                        email = renderer.render_email(folder, name, locale, playbook.default_locale, context)
                    except TemplateRenderError:
                        continue  # a template meant for another event: its data is not there
                    assert email.html is not None, template
                    found.append((f"{template.relative_to(TEMPLATES)} ({event})", email.html))
    return found


@pytest.mark.parametrize("business", [SAMPLE_BUSINESS, LOGO_BUSINESS], ids=["name", "logo"])
def test_every_html_email_is_a_well_formed_mobile_page_with_the_business_and_inlined_css(
    business: BusinessProfile,
) -> None:
    emails = seed_emails(business)
    templates = {where.split(" ")[0] for where, _ in emails}
    assert len(templates) == len(list(TEMPLATES.glob("*/*/*.email.j2")))  # every one rendered
    escaped = business.name.replace("&", "&amp;")
    for where, html in emails:
        page = structure(html)
        assert page.doctype and page.open == [] and page.problems == [], where
        assert [tag for tag in page.seen if tag in ("html", "head", "body", "title")] == [
            "html",
            "head",
            "title",
            "body",
        ], where
        assert VIEWPORT in html, where
        assert escaped in html, where
        assert "<style" not in html and page.styled > 0, where  # inlined: no <style> left
        assert 'class="email" style="font-family: Arial' in html, where
        if business.logo_url:
            logo = re.search(r'<img class="logo"[^>]*>', html)
            assert logo and f'src="{LOGO}"' in logo[0] and f'alt="{escaped}"' in logo[0], where


def email(tmp_path: Path, source: str) -> str | None:
    (tmp_path / "p" / "nb").mkdir(parents=True)
    (tmp_path / "p" / "nb" / "t.email.j2").write_text(source, encoding="utf-8")
    context = {
        "customer": {"locale": "nb", "first_name": "Kari"},
        "business": {"name": "Verksted", "currency": "NOK"},
        "links": {"page": "https://x.example/b/1?s=a&t=b"},
    }
    return Renderer(tmp_path).render_email("p", "t", "nb", "nb", context).html


def test_an_html_block_with_a_style_element_is_inlined_too(tmp_path: Path) -> None:
    html = email(
        tmp_path,
        "{% block subject %}s{% endblock %}{% block text %}t{% endblock %}"
        "{% block html %}<style>p { color: red }</style><p>{{ '<b>' }}</p>{% endblock %}",
    )
    assert html == '<html><head></head><body><p style="color: red;">&lt;b&gt;</p></body></html>'


def test_a_template_extending_a_layout_fills_its_content_block(tmp_path: Path) -> None:
    (tmp_path / "layout.html.j2").write_text(
        "<!DOCTYPE html><html><head><title>{{ self.subject() }}</title>"
        "<style>.c { margin: 0 }</style></head><body><div class=c>{% block content %}{% endblock %}</div>"
        "</body></html>",
        encoding="utf-8",
    )
    html = email(
        tmp_path,
        '{% extends "layout.html.j2" %}'
        "{% block subject %}Hei & hå{% endblock %}{% block text %}t{% endblock %}"
        '{% block content %}<a href="{{ links.page }}">{{ customer.first_name }}</a>{% endblock %}',
    )
    assert html == (
        "<!DOCTYPE html><html><head><title>Hei &amp; hå</title></head><body>"
        '<div class="c" style="margin: 0;"><a href="https://x.example/b/1?s=a&amp;t=b">Kari</a></div>'
        "</body></html>"
    )


def test_lint_knows_the_layout_blocks_only_in_a_template_that_extends_it() -> None:
    blocks = (
        "{% block subject %}s{% endblock %}{% block text %}t{% endblock %}{% block content %}c{% endblock %}"
    )
    extending = '{% extends "_shared/email_layout.html.j2" %}' + blocks
    assert check_template_source(Path("t.j2"), extending, declared_facts=set(), kind="email") == []
    assert check_template_source(Path("t.j2"), blocks, declared_facts=set(), kind="email") == [
        (1, "unknown block 'content' (email templates have html, subject, text)")
    ]


def test_the_logo_must_be_a_web_address() -> None:
    with pytest.raises(ValueError, match="logo_url must be an http"):
        BusinessProfile(name="Verksted", logo_url="file:///etc/logo.png")
