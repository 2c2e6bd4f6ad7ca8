"""A text a playbook writes once or per locale: its title, an option's label (pure).

``title: Bilservice`` is one text for every locale, as playbooks have always
written it; ``title: {nb: Bilservice, da: Bilservice, en: Car service}`` gives
each locale its own. ``pick`` never fails: a locale without its own text falls
back to the playbook's default locale, then to the first text written, so a
gap shows a text in another language rather than nothing. ``forvent lint``
names such gaps (``missing``) for the locales a playbook lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

#: The locales a text may be written in; the same as a playbook's.
TEXT_LOCALES = ("nb", "da", "en")


@dataclass(frozen=True)
class LocalisedText:
    """One text for every locale (``plain``), or one per locale (``texts``, in the order written)."""

    plain: str | None = None
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_plain(self) -> bool:
        return self.plain is not None

    def pick(self, locale: str, default_locale: str | None = None) -> str:
        """The text for ``locale``, else for ``default_locale``, else the first one written."""
        if self.plain is not None:
            return self.plain
        for candidate in (locale, default_locale):
            if candidate is not None and candidate in self.texts:
                return self.texts[candidate]
        return next(iter(self.texts.values()))

    def missing(self, locales: Iterable[str]) -> list[str]:
        """The ``locales`` with no text of their own; none for a plain text, which serves them all."""
        if self.plain is not None:
            return []
        return [locale for locale in locales if locale not in self.texts]

    def dump(self) -> str | dict[str, str]:
        return self.plain if self.plain is not None else dict(self.texts)

    @classmethod
    def parse(cls, value: Any) -> LocalisedText:
        """From YAML: a string, or a mapping of locale to string; ``ValueError`` says what is wrong."""
        if isinstance(value, LocalisedText):
            return value
        if isinstance(value, str):
            return cls(plain=value)
        if isinstance(value, Mapping):
            if not value:
                raise ValueError("expected a text per locale, e.g. {nb: ..., da: ..., en: ...}; got none")
            texts: dict[str, str] = {}
            for locale, text in value.items():
                if locale not in TEXT_LOCALES:
                    raise ValueError(f"unsupported locale {locale!r} (supported: nb, da, en)")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError(f"{locale}: {_expected(text)}")
                texts[locale] = text
            return cls(texts=MappingProxyType(texts))
        raise ValueError(_expected(value) + ", or a text per locale ({nb: ..., da: ..., en: ...})")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda text: text.dump()),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        per_locale = {locale: {"type": "string", "minLength": 1} for locale in TEXT_LOCALES}
        return {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": per_locale,
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ],
            "description": "One text for every locale, or one per locale: {nb: ..., da: ..., en: ...}.",
        }


def _expected(value: Any) -> str:
    if isinstance(value, bool):
        return f"YAML 1.1 reads an unquoted yes/no/on/off as the boolean {str(value).lower()}; quote it"
    if isinstance(value, int | float):
        return f"expected quoted text, got the number {value}"
    if isinstance(value, str):
        return "expected text, got an empty one"
    return "expected text"
