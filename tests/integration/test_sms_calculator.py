"""``engine.messages.sms`` against Twilio's own segment calculator (shared/tools/sms_segments.js).

One node run checks a batch: every character of the GSM table's neighbourhood
alone and repeated, the segment boundaries, and strings Hypothesis generates.
The generated strings use characters that are each one grapheme cluster:
Twilio packs clusters, ``engine.messages.sms`` code points (see its docstring).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.messages.sms import sms_info

from .peers import SHARED_DIR, VALIDATORS_DIR, missing_peer

pytestmark = pytest.mark.peers

CALCULATOR = SHARED_DIR / "tools" / "sms_segments.js"

GSM = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\f^{}\\[~]|€"
)
# Realistic non-GSM text, each character its own grapheme cluster.
OTHER = (
    "çáíóúâêôãõëïÿœŒčšžłńőű"  # Latin letters outside GSM
    "\u2013\u2014\u2019\u201c\u201d\u2026\u00a0\u202f`\t"  # typography and controls
    "абвгдежзиклмнопАБВГД"  # Cyrillic
    "αβγδεζηθ中文日本語한국"  # Greek, CJK, Hangul syllables
    "😀🚗📅🔧💡🎉𝄞𐍈"  # outside the BMP: surrogate pairs
)
BOUNDARIES = [
    "",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "€" * 80,
    "€" * 81,
    "a" * 152 + "€" + "a" * 152,
    "a" * 151 + "€" + "a" * 153,
    "a" * 153 + "€" * 77,
    "ç" * 70,
    "ç" * 71,
    "😀" * 35,
    "😀" * 36,
    "ç" * 66 + "😀" + "ç" * 66,
    "ç" * 65 + "😀" + "ç" * 67,
    "ç" * 133 + "😀" + "ç" * 100,
    "Hei Kari! Bilen din er klar til henting i dag fra kl. 15:00. Å betale: 3 450,00 kr.",
    "Hei Kari! Bilen din er klar til henting i dag fra kl. 15:00. Å betale: 3\u00a0450,00\u00a0kr.",
]


def _single_characters() -> list[str]:
    """Every character up to U+03FF alone, and 81 times (161+ septets if it is an extension)."""
    chars = [chr(code) for code in range(0x400) if not 0x300 <= code < 0x370]  # no combining marks
    chars += list(OTHER)
    return chars + [char * 81 for char in chars]


def _calculator(cases: list[str], workdir: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    modules = VALIDATORS_DIR / "node_modules"
    if node is None:
        missing_peer("node is not installed")
    if not CALCULATOR.is_file():
        missing_peer(f"{CALCULATOR} not found (set FORVENT_SHARED_DIR)")
    if not (modules / "sms-segments-calculator").is_dir():
        missing_peer(f"sms-segments-calculator not installed under {modules} (see shared/tools/setup.sh)")
    batch = workdir / "cases.json"
    batch.write_text(json.dumps(cases), encoding="utf-8")
    run = subprocess.run(
        [node, str(CALCULATOR), str(batch)],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(run.stdout)
    return results


def _generated() -> list[str]:
    """Strings from Hypothesis, collected first so that node runs once for all of them."""
    texts: list[str] = []
    alphabet = st.sampled_from(GSM) | st.sampled_from(OTHER)
    mostly_gsm = st.text(alphabet=st.sampled_from(GSM), min_size=140, max_size=330)
    mixed = st.text(alphabet=alphabet, min_size=0, max_size=220)
    mixed_long = st.text(alphabet=alphabet, min_size=60, max_size=210)

    @settings(max_examples=400, database=None, suppress_health_check=list(HealthCheck))
    @given(mostly_gsm | mixed | mixed_long)
    def collect(text: str) -> None:
        texts.append(text)

    collect()
    return texts


def test_encoding_and_segments_match_twilios_calculator(tmp_path: Path) -> None:
    cases = BOUNDARIES + _single_characters() + _generated()
    results = _calculator(cases, tmp_path)
    assert len(results) == len(cases)
    mismatches = []
    for text, result in zip(cases, results, strict=True):
        ours = sms_info(text)
        twilio = (result["twilio"]["encoding"], result["twilio"]["segments"])
        if (ours.encoding, ours.segments) != twilio:
            mismatches.append(f"{text!r}: ours {ours.encoding}/{ours.segments}, Twilio {twilio}")
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ:\n" + "\n".join(mismatches[:20])
