"""Every string the console shows has a translation in Armenian, English and
Russian: the strings are extracted from the templates and code as `make catalogs`
extracts them, and each must have a non-empty, non-fuzzy translation with the same
placeholders in each catalog. Every code the console shows has words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from services.gateway.console import labels
from services.gateway.console.i18n import LANGUAGES, catalog_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    "services/gateway/console/babel.cfg", "-k", "N_", "--no-location",
                    "--omit-header", "-o", str(out), "."], cwd=ROOT, check=True,
                   capture_output=True)
    with out.open("rb") as fp:
        return read_po(fp)


def test_there_are_strings_to_translate(extracted: Catalog) -> None:
    assert len([m for m in extracted if m.id]) > 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(extracted: Catalog, language: str) -> None:
    with catalog_path(language, ".po").open("rb") as fp:
        catalog = read_po(fp, locale=language)
    missing = []
    for message in extracted:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings = ([] if found is None else
                   list(found.string) if isinstance(found.string, tuple) else [found.string])
        if found is None or found.fuzzy or not strings or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    assert missing == [], f"{len(missing)} strings without a {language} translation"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language: str) -> None:
    with catalog_path(language, ".po").open("rb") as fp:
        catalog = read_po(fp, locale=language)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []


def test_every_code_has_words() -> None:
    unlabelled = [(kind, member.value) for kind, enum in labels.KINDS.items()
                  for member in enum if member.value not in labels.LABELS.get(kind, {})]
    assert unlabelled == []


def test_a_score_reason_is_shown_with_its_figures() -> None:
    assert labels.reason("skills", "has 2 of 3 required skills") == (
        "has %(covered)s of %(required)s required skills", {"covered": "2", "required": "3"})
    assert labels.reason("experience", "4 year(s) of experience beyond the minimum")[1] == {
        "years": "4"}
