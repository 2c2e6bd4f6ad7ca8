"""What a customer's feedback says: a 0-10 score, its band, and whether free text reads unhappy (pure).

Unhappy is read from a short word list per locale, on purpose. The list only
decides who is *called at once*: every free-text reply after a review request
is shown to staff anyway. A list is predictable (staff and customers can see
why a reply was flagged), reviewable in a pull request, the same on every
machine, and costs nothing to run; a model would be none of these, and a
false alarm here costs a glance while a miss is still read as feedback.

Rules, kept simple so they can be told in one sentence each:

- Words match whole words, case-insensitively; an entry ending in ``*`` is a
  stem (``skuff*`` is skuffet, skuffende, skuffelse); an entry with a space is
  a phrase of whole words (``ikke fornøyd``).
- A word right after a negation (``ikke dårlig``, ``not bad``) does not count.
- A booking in ``nb`` or ``da`` is read with both lists (the languages are
  mutually readable and customers mix them); ``en`` with its own. English is
  not read for ``nb``/``da``: ``bad`` is a bathroom there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

Band = Literal["detractor", "passive", "promoter"]
DETRACTOR_MAX: Final = 6  # 0-6: a detractor (the NPS bands)
PROMOTER_MIN: Final = 9  # 9-10: a promoter; 7-8 passive

NEGATIVE: Final[Mapping[str, tuple[str, ...]]] = {
    "nb": (
        "dårlig*",
        "skuff*",
        "misfornøyd",
        "elendig*",
        "forferdelig*",
        "håpløs*",
        "uakseptabel*",
        "katastrofe*",
        "ubrukelig*",
        "sint",
        "irritert",
        "frekk*",
        "klage*",
        "lurt",
        "svindel",
        "ikke fornøyd",
        "ikke bra",
        "ikke greit",
        "ikke i orden",
        "aldri mer",
        "aldri igjen",
        "for dyrt",
    ),
    "da": (
        "dårlig*",
        "skuff*",
        "utilfreds*",
        "elendig*",
        "frygtelig*",
        "forfærdelig*",
        "håbløs*",
        "uacceptabel*",
        "katastrofe*",
        "ubrugelig*",
        "vred",
        "irriteret",
        "uforskammet",
        "klage*",
        "snydt",
        "ikke tilfreds",
        "ikke godt",
        "ikke i orden",
        "aldrig mere",
        "aldrig igen",
        "for dyrt",
    ),
    "en": (
        "bad",
        "worst",
        "awful",
        "terrible",
        "horrible",
        "poor",
        "rude",
        "disappoint*",
        "unhappy",
        "dissatisfied",
        "unacceptable",
        "useless",
        "angry",
        "annoyed",
        "complain*",
        "overcharged",
        "rip off",
        "not happy",
        "not good",
        "not satisfied",
        "never again",
        "too expensive",
    ),
}
READ_WITH: Final[Mapping[str, tuple[str, ...]]] = {"nb": ("nb", "da"), "da": ("da", "nb"), "en": ("en",)}
NEGATIONS: Final = frozenset({"ikke", "not", "never", "aldri", "aldrig", "no"})

_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# "3", "3.", "3/10", "3 av 10", or a score then words: "3 dårlig service", "9, takk!"
_SCORE = re.compile(
    r"^\s*(?P<score>10|[0-9])(?![0-9,.][0-9])"
    r"(?:\s*(?:/|av|af|of|ud af|out of)\s*10(?![0-9]))?"
    r"(?P<rest>(?:[\s.,:;!)\-]+\D.*)?)\s*[.!]*\s*$",
    re.IGNORECASE | re.DOTALL,
)


def read_score(text: str) -> tuple[int, str] | None:
    """``(score, the words after it)`` when ``text`` starts with a score 0-10, else None.

    ``"3 dårlig service"`` is ``(3, "dårlig service")``; ``"7"`` is ``(7, "")``;
    ``"3,5"`` and ``"15 min"`` are no score.
    """
    match = _SCORE.match(text)
    if match is None:
        return None
    rest = match.group("rest").strip().lstrip(".,:;!)-").strip()
    return int(match.group("score")), rest


def band(score: int) -> Band:
    if score <= DETRACTOR_MAX:
        return "detractor"
    if score >= PROMOTER_MIN:
        return "promoter"
    return "passive"


def reads_negative(text: str, locale: str) -> bool:
    """Whether ``text`` holds one of the unhappy words read for a booking in ``locale``."""
    words = [w.lower() for w in _WORDS.findall(text)]
    entries = [e for lang in READ_WITH.get(locale, ("nb", "da", "en")) for e in NEGATIVE[lang]]
    return any(_found(entry, words) for entry in entries)


def _found(entry: str, words: list[str]) -> bool:
    parts = entry.split()
    size = len(parts)
    for index in range(len(words) - size + 1):
        if all(_same(part, word) for part, word in zip(parts, words[index : index + size], strict=True)):
            negated = index > 0 and words[index - 1] in NEGATIONS and parts[0] not in NEGATIONS
            if not negated:
                return True
    return False


def _same(entry: str, word: str) -> bool:
    return word.startswith(entry[:-1]) if entry.endswith("*") else word == entry
