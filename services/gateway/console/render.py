"""Jinja2 for the console: one environment per language (its gettext catalog and
Babel formats installed once, so rendering is thread-safe), autoescape on for every
template, and :func:`page` to answer with a rendered template."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from gettext import GNUTranslations
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from services.gateway.console import labels
from services.gateway.console.i18n import LANGUAGES, NATIVE_NAMES, Formats, load_translations
from services.gateway.console.nav import sections_for

TEMPLATES = Path(__file__).parent / "templates"


def make_environment(language: str, translations: GNUTranslations) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        default=True, default_for_string=True), undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    said, formats = said_by(translations), Formats(language)
    env.globals.update(_=said, gettext=said, trigger_reason=trigger_words(said, formats))
    env.filters.update(date=formats.date, datetime=formats.datetime, number=formats.number,
                       percent=formats.percent, money=formats.money)
    env.globals.update(language=language, languages=LANGUAGES, native_names=NATIVE_NAMES,
                       word=lambda kind, code: translations.gettext(labels.label(kind, code)))
    return env


def said_by(translations: GNUTranslations) -> Callable[..., Markup]:
    """``_()`` for templates: what Jinja2's newstyle gettext does (the catalog's words
    trusted, every figure escaped, ``%`` formatting always applied), in one call where
    Jinja2 makes three (its alias, its wrapper, the catalog): a queue of 40 vacancies
    spent a tenth of its page on them."""
    gettext = translations.gettext

    def said(message: str, /, **figures: Any) -> Markup:
        return Markup(gettext(message) % {  # noqa: S704 (our catalog, figures escaped)
            name: escape(value) for name, value in figures.items()})

    return said


def trigger_words(said: Callable[..., Markup], formats: Formats) -> Callable[[str, str], Markup]:
    """A trigger's reason in the page's language (``labels.trigger_reason``), its dates
    as the language writes them; an unknown reason as the tracker wrote it."""

    def words(kind: str, text: str) -> Markup:
        known = labels.trigger_reason(kind, text)
        if known is None:
            return escape(text)
        msgid, figures = known
        return said(msgid, **{name: formats.date(value) if name.endswith("_date") else value
                              for name, value in figures.items()})

    return words


@dataclass
class Renderer:
    """Each language's catalog, loaded once, and its template environment; code that
    translates outside a template (a chart's labels) uses the same catalog."""

    translations: dict[str, GNUTranslations]
    environments: dict[str, Environment]

    @classmethod
    def create(cls) -> Renderer:
        catalogs = {language: load_translations(language) for language in LANGUAGES}
        return cls(catalogs, {language: make_environment(language, catalog)
                              for language, catalog in catalogs.items()})


def page(request: Request, template: str, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """``template`` rendered in the request's language, with what every page shows: the
    signed-in user, the menu for the user's role, the CSRF token for forms."""
    state = request.state
    renderer: Renderer = request.app.state.renderer
    env = renderer.environments[state.language]
    user = getattr(state, "user", None)
    html = env.get_template(template).render(
        request=request, user=user, sections=sections_for(user.role if user else None),
        csrf_token=state.csrf_token, path=request.url.path,
        flash=state.flash, **context)
    return HTMLResponse(html, status_code=status_code)
