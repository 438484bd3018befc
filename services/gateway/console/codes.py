"""Codes as the names people read: countries and languages in the page's language
(Babel's CLDR names), occupations with their ISCO-08 title (the ILO's English table
the API checks codes against). ``names(request)`` is what templates name codes with."""

from __future__ import annotations

import functools
from typing import Any

from babel import Locale
from fastapi import Request

from schemas.codes import isco_unit_groups


@functools.lru_cache(maxsize=4096)  # a page names the same few countries many times
def country_name(language: str, code: str) -> str:
    """A country's name in ``language``, the code if unknown."""
    return str(Locale.parse(language).territories.get(code, code))


@functools.lru_cache(maxsize=4096)
def language_name(language: str, code: str) -> str:
    """A language's name in ``language``, the code if unknown."""
    return str(Locale.parse(language).languages.get(code, code))


def occupation_name(code: str) -> str:
    """An ISCO-08 unit group with its title, the code if unknown."""
    title = isco_unit_groups().get(code)
    return f"{code} {title}" if title else code


def names(request: Request) -> dict[str, Any]:
    language = request.state.language
    return {"country": lambda code: country_name(language, code),
            "language_name": lambda code: language_name(language, code),
            "occupation": occupation_name}
