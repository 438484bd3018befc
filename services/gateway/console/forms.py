"""HTML forms to the API's request models and back: a form's flat fields become the
nested body the API takes (``monthly_wage.amount``, ``occupations.0.isco_code``,
lists from repeated fields or comma-separated text), the same pydantic model
validates it, and its errors become messages per field in the user's language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from services.gateway.console.deps import CSRF_FIELD
from services.gateway.console.nav import N_
from services.gateway.errors import ApiError, FieldError


async def form_data(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]

#: pydantic's error types as messages for people (English msgids, translated when
#: shown); an error of another type gets the generic message
MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This is too short."),
    "string_too_long": N_("This is too long."),
    "string_pattern_mismatch": N_("This is not in the expected format."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "greater_than_equal": N_("Enter a number of at least %(ge)s."),
    "less_than_equal": N_("Enter a number of at most %(le)s."),
    "less_than": N_("Enter a number less than %(lt)s."),
    "int_parsing": N_("Enter a whole number."),
    "decimal_parsing": N_("Enter a number."),
    "date_from_datetime_parsing": N_("Enter a date."),
    "date_parsing": N_("Enter a date."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "too_short": N_("Add at least one."),
    "value_error": N_("This value is not valid."),
    "unknown_id": N_("No such record exists."),
    "extra_forbidden": N_("This field is not allowed here."),
    "bool_parsing": N_("Choose yes or no."),
    "date_past": N_("Enter a date in the past."),
    "date_in_future": N_("This date is after today."),
}
GENERIC = N_("This value is not valid.")


def nest(form: FormData, *, lists: frozenset[str] = frozenset(),
         split: frozenset[str] = frozenset(), flags: frozenset[str] = frozenset(),
         booleans: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The body a form describes. Empty fields are left out (the model's default or
    its "required" error applies); ``lists`` are repeated fields (checkboxes),
    ``split`` comma-separated text, ``flags`` checkboxes that mean a boolean,
    ``booleans`` yes/no choices sent as ``true`` / ``false``."""
    body: dict[str, Any] = {}
    for key in dict.fromkeys(form.keys()):
        if key == CSRF_FIELD:
            continue
        if key in lists:
            value: Any = [v for v in form.getlist(key) if isinstance(v, str) and v]
        elif key in split:
            text = form.get(key)
            value = [p.strip() for p in str(text or "").split(",") if p.strip()]
        else:
            raw = form.get(key)
            if not isinstance(raw, str) or raw.strip() == "":
                continue
            value = raw.strip()
            if key in booleans:
                value = {"true": True, "false": False}.get(value, value)
        _put(body, key.split("."), value)
    for flag in flags:
        body[flag] = flag in form
    return _lists(body)


def _put(body: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        body = body.setdefault(part, {})
    body[path[-1]] = value


def _lists(value: Any) -> Any:
    """``{"0": a, "1": b}`` (rows of a repeated group) as ``[a, b]``, rows with no
    field filled in left out."""
    if not isinstance(value, dict):
        return value
    if value and all(k.isdigit() for k in value):
        return [_lists(value[k]) for k in sorted(value, key=int) if value[k]]
    return {k: _lists(v) for k, v in value.items()}


def errors_of(exc: ValidationError | ApiError) -> dict[str, tuple[str, dict[str, Any]]]:
    """Field name (as the form names it) -> (msgid, figures) of its first error."""
    if isinstance(exc, ValidationError):
        found = [(_field(err["loc"]), err["type"], dict(err.get("ctx") or {}))
                 for err in exc.errors()]
    else:
        found = [(_api_field(e), e.type, {}) for e in exc.errors]
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for field, kind, ctx in found:
        if field not in out:
            out[field] = (MESSAGES.get(kind, GENERIC),
                          {k: v for k, v in ctx.items() if isinstance(v, int | float | str)})
    return out


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "form"


def _api_field(error: FieldError) -> str:
    return error.field.removeprefix("body.")


def validate(model: type[BaseModel], body: dict[str, Any]) -> BaseModel:
    return model.model_validate(body)
