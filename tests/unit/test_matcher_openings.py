"""A market's open vacancies as columns (services/matcher/domain/openings.py): the
vacancies it names for an arriving worker are those the pure rules would take, the
ones it leaves out are those the rules refuse or whose bar the worker's score does
not reach, and its rows follow every change to a vacancy and its bar."""

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codes import CefrLevel
from services.matcher.domain.candidates import ROUNDING_SLACK, SKILL_BITS
from services.matcher.domain.eligibility import failures
from services.matcher.domain.openings import Openings
from services.matcher.domain.scoring import score_value
from tests.unit.matcher_factories import vacancy, worker

SKILLS = ["tractor", "pruning", "irrigation", "welding", "forklift", "greenhouse"]
skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=6)
levels = st.sampled_from(list(CefrLevel))
language = st.none() | st.tuples(st.sampled_from(["de", "en"]), levels)

workers = st.builds(
    lambda born, years, skills, langs, avail, pref, back, cool, origin, rehire:
    worker("w", date_of_birth=born, occupations={"6111": years}, skills=skills,
           languages=langs, available_from=avail, preferred_destinations=pref,
           returned_on_time=back, reentry_from=cool, citizenship=origin,
           rehire_employers=rehire),
    st.dates(min_value=date(1960, 1, 1), max_value=date(2010, 12, 31)), st.integers(0, 20),
    skill_sets, st.dictionaries(st.sampled_from(["de", "en"]), levels, max_size=2),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    st.sampled_from([frozenset(), frozenset({"DE"}), frozenset({"KR"})]), st.booleans(),
    st.none() | st.dates(min_value=date(2026, 6, 1), max_value=date(2027, 9, 1)),
    st.sampled_from(["AM", "AM", "GE"]),
    st.sampled_from([frozenset(), frozenset({"e2"}), frozenset({"e1", "e9"})]))
vacancies = st.builds(
    lambda start, lo, span, req, exp, origin, own, agreed, employer: vacancy(
        start_date=start, min_age=lo, max_age=lo + span, required_skills=req,
        min_experience_years=exp, origin_country=origin, language_requirement=own,
        agreement_language=agreed, employer_id=employer),
    st.dates(min_value=date(2026, 6, 1), max_value=date(2028, 6, 1)), st.integers(16, 40),
    st.integers(0, 30), skill_sets, st.integers(0, 8), st.sampled_from(["AM", "GE"]),
    language, language, st.sampled_from(["e1", "e2", "e3"]))
#: no bar (room left), or the lowest score of full proposals
bars = st.none() | st.floats(0, 1).map(lambda b: round(b, 6))


def taken_by_the_rules(w, rows):
    """The vacancies the pure rules would take the worker for: eligible (positions
    and quota are not the columns' to judge), and not below a full vacancy's bar."""
    return {v.vacancy_id for v, bar in rows
            if not failures(w, v) and (bar is None or score_value(w, v) >= bar)}


@settings(max_examples=400, deadline=None)
@given(w=workers, drawn=st.lists(st.tuples(vacancies, bars), max_size=8))
def test_the_vacancies_named_are_those_the_rules_would_take(w, drawn):
    rows = [(replace(v, vacancy_id=f"v{n}"), bar) for n, (v, bar) in enumerate(drawn)]
    openings = Openings()
    for v, bar in rows:
        openings.set(v, bar)
    named = openings.candidates(w, w.occupations["6111"])
    assert named == sorted(named)
    taken = taken_by_the_rules(w, rows)
    assert taken <= set(named)  # nothing the rules would take is left out
    for v, bar in rows:  # and what is named besides is a rounding's worth off the bar
        if v.vacancy_id in set(named) - taken:
            assert not failures(w, v) and score_value(w, v) >= bar - 2 * ROUNDING_SLACK


def test_rows_follow_a_moved_bar_a_changed_vacancy_and_one_gone():
    w = worker(occupations={"6111": 5}, skills=frozenset({"tractor"}))
    a, b = vacancy("a"), vacancy("b", min_experience_years=0)
    openings = Openings()
    openings.set(a, None)
    openings.set(b, None)
    assert openings.candidates(w, 5) == ["a", "b"]
    mine = score_value(w, a)
    openings.set(a, mine + 0.01)  # the same vacancy, full above the worker's score
    assert openings.candidates(w, 5) == ["b"]
    openings.set(a, mine)  # a tie may enter
    assert openings.candidates(w, 5) == ["a", "b"]
    openings.set(replace(a, min_experience_years=6), None)  # its terms changed
    assert openings.candidates(w, 5) == ["b"]
    openings.remove("b")
    assert openings.candidates(w, 5) == [] and len(openings) == 1
    openings.remove("a")
    assert not openings and openings.candidates(w, 5) == []


def test_a_vacancy_asking_for_skills_beyond_the_mask_is_still_named():
    """A market whose vacancies ask for more distinct skills than a mask holds: the
    vacancies asking for one without a bit are named whatever their bar (the rules
    judge them), and the others are judged as usual."""
    rows = [(vacancy(f"v{n:03}", required_skills=frozenset({f"s{n}"})), 0.5)
            for n in range(SKILL_BITS + 5)]
    openings = Openings()
    for v, bar in rows:
        openings.set(v, bar)
    rare = worker(occupations={"6111": 40}, skills=frozenset({f"s{SKILL_BITS + 2}"}))
    named = openings.candidates(rare, 40)
    assert taken_by_the_rules(rare, rows) <= set(named)
    assert f"v{SKILL_BITS + 2:03}" in named
    assert "v000" not in named  # a skill with a bit: judged, and below the bar


def test_a_worker_no_vacancy_may_take_is_named_for_none():
    openings = Openings()
    openings.set(vacancy("a"), None)
    for w in (worker(consent_matching=False), worker(erased=True), worker(busy=True),
              worker(citizenship="GE"), worker(preferred_destinations=frozenset({"KR"}))):
        assert openings.candidates(w, 5) == []
    assert openings.candidates(worker(), 5) == ["a"]


def test_the_boundaries_of_the_rules_are_the_rules_own():
    """Each boundary of SPEC 3.3 as the pure rules draw it (eligibility.py's
    docstring), and a re-hire's score above every bar others can reach."""
    start = date(2027, 4, 1)
    v = vacancy("v", start_date=start, min_age=18, max_age=55,
                language_requirement=("de", CefrLevel.B1), required_skills=frozenset())
    openings = Openings()
    openings.set(v, None)
    on_the_edge = [
        worker(available_from=start),  # available on the start date: in time
        worker(reentry_from=start),  # the cooldown ends on the start date
        worker(date_of_birth=date(2009, 4, 1)),  # 18 on the start date
        worker(date_of_birth=date(1971, 4, 2)),  # 55 until the day after
        worker(languages={"de": CefrLevel.B1}),  # the level asked, no more
    ]
    for w in on_the_edge:
        assert not failures(w, v) and openings.candidates(w, 5) == ["v"], w
    beyond = [worker(available_from=date(2027, 4, 2)), worker(reentry_from=date(2027, 4, 2)),
              worker(date_of_birth=date(2009, 4, 2)), worker(date_of_birth=date(1971, 4, 1)),
              worker(languages={"de": CefrLevel.A2}), worker(languages={"en": CefrLevel.C2})]
    for w in beyond:
        assert failures(w, v) and openings.candidates(w, 5) == [], w
    openings.set(v, 0.85)  # full, with proposals above what a first-timer can score
    assert openings.candidates(worker(occupations={"6111": 60}), 60) == []
    rehire = worker(rehire_employers=frozenset({"e1"}))
    assert score_value(rehire, v) >= 0.85 and openings.candidates(rehire, 5) == ["v"]
