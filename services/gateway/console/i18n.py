"""Languages of the console: Armenian, English, Russian. Catalogs are gettext ``.po``
files under ``translations/`` (``make catalogs`` extracts, updates and compiles them);
dates, numbers and money are formatted by Babel for the locale.

The language of a request is the signed-in user's setting, else the one chosen with
the switcher (kept in the session), else the best of the browser's Accept-Language,
else English."""

from __future__ import annotations

import functools
import gettext
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LANGUAGES = ("hy", "en", "ru")
DEFAULT = "en"
#: each language named in itself, for the switcher
NATIVE_NAMES = {"hy": "Հայերեն", "en": "English", "ru": "Русский"}
CATALOGS = Path(__file__).parent / "translations"
DOMAIN = "messages"


def catalog_path(language: str, suffix: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def load_translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``language``; when ``make catalogs`` has not compiled
    it (or the ``.po`` is newer), the ``.po`` is compiled in memory instead."""
    po, mo = catalog_path(language, ".po"), catalog_path(language, ".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fp:
            return gettext.GNUTranslations(fp)
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an Accept-Language header, or None."""
    if not accept_language:
        return None
    wanted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag:
            wanted.append((quality, tag.strip()))
    wanted.sort(key=lambda w: -w[0])
    for _, tag in wanted:
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return None


@functools.lru_cache(maxsize=64)
def _pattern(pattern: str) -> numbers.NumberPattern:
    """Babel parses a number pattern on every call; a page formats hundreds."""
    return numbers.parse_pattern(pattern)


#: formatting is pure and a page formats the same figures, dates and scores many times
#: (a review queue: 200 scores, 40 vacancies' dates and counts), each costing Babel more
#: than the rest of its line; so each language's words for a value are remembered
_remembered = functools.lru_cache(maxsize=4096, typed=True)


@_remembered
def _decimal(language: str, value: float | int | Decimal) -> str:
    return numbers.format_decimal(value, locale=language)


@_remembered
def _date(language: str, value: date, style: str) -> str:
    return dates.format_date(value, format=style, locale=language)


@_remembered
def _percent(language: str, value: float) -> str:
    return _pattern("#,##0.#%").apply(value, Locale.parse(language))


@dataclass(frozen=True)
class Formats:
    """Babel's formatting for one locale, as template filters."""

    language: str

    @functools.cached_property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def date(self, value: date | str | None, style: str = "medium") -> str:
        if value in (None, ""):
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return _date(self.language, value, style)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return dates.format_datetime(value, format="medium", locale=self.language)

    def number(self, value: float | int | Decimal | None, digits: int | None = None) -> str:
        if value is None:
            return ""
        if digits is None:
            return _decimal(self.language, value)
        return _pattern(f"#,##0.{'0' * digits}" if digits else "#,##0").apply(
            value, self.locale)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "—"
        return _percent(self.language, round(value, 3))  # what the pattern shows: 73.4%

    def money(self, value: dict[str, str] | None) -> str:
        """``{amount, currency}`` as the locale writes it; whole amounts without minor
        digits (AMD and the like print no ``.00``)."""
        if not value:
            return ""
        try:
            amount = Decimal(str(value["amount"]))
        except (InvalidOperation, KeyError):
            return ""
        if amount != amount.to_integral_value():
            return numbers.format_currency(amount, value["currency"], locale=self.language)
        pattern = self.locale.currency_formats["standard"].pattern.split(";")[0]
        return numbers.format_currency(amount, value["currency"], locale=self.language,
                                       format=pattern.replace(".00", ""),
                                       currency_digits=False)
