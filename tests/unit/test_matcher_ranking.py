"""Scores, ranking (SPEC 3.4), proposal limits and the candidate index."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codes import CefrLevel
from services.matcher.domain.candidates import MarketIndex, naive_best
from services.matcher.domain.eligibility import is_eligible
from services.matcher.domain.proposals import capacity, plan
from services.matcher.domain.scoring import Scored, score
from tests.unit.matcher_factories import vacancy, worker

SKILLS = ["tractor", "pruning", "irrigation", "welding", "forklift", "greenhouse"]
skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=6)


@given(skills=skill_sets, extra=skill_sets, years=st.integers(2, 40),
       returned=st.booleans())
def test_more_required_skills_covered_ranks_higher(skills, extra, years, returned):
    v = vacancy(required_skills=frozenset(SKILLS))
    less = worker(skills=skills, occupations={"6111": years}, returned_on_time=returned)
    more = worker(skills=skills | extra, occupations={"6111": years}, returned_on_time=returned)
    if len(more.skills) > len(less.skills):
        assert score(more, v).score > score(less, v).score


@given(years=st.integers(2, 11), skills=skill_sets, returned=st.booleans())
def test_more_experience_above_the_minimum_ranks_higher(years, skills, returned):
    v = vacancy(min_experience_years=2)
    a = worker(occupations={"6111": years}, skills=skills, returned_on_time=returned)
    b = worker(occupations={"6111": years + 1}, skills=skills, returned_on_time=returned)
    assert score(b, v).score > score(a, v).score


@given(years=st.integers(2, 40), skills=skill_sets)
def test_an_on_time_returnee_ranks_above_a_first_time_migrant(years, skills):
    v = vacancy()
    first = worker(occupations={"6111": years}, skills=skills)
    back = worker(occupations={"6111": years}, skills=skills, returned_on_time=True)
    assert score(back, v).score > score(first, v).score


@given(rehire_years=st.integers(2, 40), rehire_skills=skill_sets,
       other_years=st.integers(2, 40), other_skills=skill_sets, other_back=st.booleans())
def test_a_rehire_from_the_same_employer_outranks_everyone_else(
        rehire_years, rehire_skills, other_years, other_skills, other_back):
    v = vacancy(required_skills=frozenset(SKILLS))
    named = worker("a", occupations={"6111": rehire_years}, skills=rehire_skills,
                   returned_on_time=True, rehire_employers=frozenset({"e1"}))
    other = worker("b", occupations={"6111": other_years}, skills=other_skills,
                   returned_on_time=other_back, rehire_employers=frozenset({"e2"}))
    assert score(named, v).score > score(other, v).score


def test_scores_explain_themselves_within_bounds():
    s = score(worker(returned_on_time=True, rehire_employers=frozenset({"e1"})), vacancy())
    assert 0 <= s.score <= 1
    assert [r.code for r in s.reasons] == ["rehire", "skills", "experience", "returned_on_time"]
    assert s.reasons[1].text == "has 2 of 2 required skills"


def test_capacity():
    assert capacity(positions=1, taken=0) == 5
    assert capacity(positions=3, taken=0) == 9
    assert capacity(positions=3, taken=1) == 6
    assert capacity(positions=3, taken=3) == 0


def cand(worker_id, s):
    return Scored(worker_id, s, ())


def test_plan_fills_then_displaces_the_lowest_unreviewed():
    p = plan({}, [cand("a", 0.5), cand("b", 0.9), cand("c", 0.1)], limit=2)
    assert [c.worker_id for c in p.propose] == ["b", "a"] and p.withdraw == []
    p = plan({"a": 0.5, "b": 0.9}, [cand("c", 0.7)], limit=2)
    assert [c.worker_id for c in p.propose] == ["c"] and p.withdraw == ["a"]
    p = plan({"a": 0.5, "b": 0.9}, [cand("c", 0.4)], limit=2)
    assert p.propose == [] and p.withdraw == []
    p = plan({"a": 0.5, "b": 0.9, "c": 0.7}, [], limit=2)  # the limit shrank
    assert p.withdraw == ["a"]


@given(live=st.dictionaries(st.text("abcdef", min_size=1, max_size=3),
                            st.floats(0, 1), max_size=8),
       fresh=st.lists(st.tuples(st.text("ghijk", min_size=1, max_size=3), st.floats(0, 1)),
                      max_size=8, unique_by=lambda t: t[0]),
       limit=st.integers(0, 9))
def test_a_plan_never_exceeds_its_limit(live, fresh, limit):
    p = plan(live, [cand(w, s) for w, s in fresh], limit)
    after = (set(live) - set(p.withdraw)) | {c.worker_id for c in p.propose}
    assert len(after) <= limit
    assert set(p.withdraw) <= set(live)
    assert not {c.worker_id for c in p.propose} & set(live)
    # nobody kept scores below anyone dropped
    dropped = [s for w, s in fresh if w not in after and w not in live]
    dropped += [live[w] for w in p.withdraw]
    kept = [live[w] for w in after if w in live] + [c.score for c in p.propose]
    if dropped and kept:
        assert min(kept) >= max(dropped) - 1e-12 or len(after) < limit


birthdays = st.dates(min_value=date(1955, 1, 1), max_value=date(2012, 12, 31))
workers = st.builds(
    lambda i, born, years, skills, langs, avail, cons, pref, busy, back, cool: worker(
        f"w{i}", date_of_birth=born, occupations={"6111": years}, skills=skills,
        languages=langs, available_from=avail, consent_matching=cons,
        preferred_destinations=pref, busy=busy, returned_on_time=back, reentry_from=cool),
    st.integers(0, 10**6), birthdays, st.integers(0, 20), skill_sets,
    st.dictionaries(st.sampled_from(["de", "en"]), st.sampled_from(list(CefrLevel)),
                    max_size=2),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)), st.booleans(),
    st.sampled_from([frozenset(), frozenset({"DE"}), frozenset({"KR"})]), st.booleans(),
    st.booleans(), st.none() | st.dates(min_value=date(2026, 6, 1),
                                        max_value=date(2027, 9, 1)))
vacancies = st.builds(
    lambda start, lo, span, req, exp: vacancy(
        start_date=start, min_age=lo, max_age=lo + span, required_skills=req,
        min_experience_years=exp, agreement_language=("de", CefrLevel.A2)),
    st.dates(min_value=date(2026, 6, 1), max_value=date(2028, 6, 1)), st.integers(16, 40),
    st.integers(0, 30), skill_sets, st.integers(0, 6))


@settings(max_examples=150, deadline=None)
@given(roster=st.lists(workers, max_size=60, unique_by=lambda w: w.worker_id),
       v=vacancies, limit=st.integers(0, 12), exclude_count=st.integers(0, 5))
def test_the_index_finds_exactly_what_a_full_scan_finds(roster, v, limit, exclude_count):
    index = MarketIndex()
    for w in roster:
        index.upsert(w)
    exclude = {w.worker_id for w in roster[:exclude_count]}
    found = index.best(v, limit, exclude)
    assert found == naive_best(roster, v, limit, exclude)
    assert all(is_eligible(next(w for w in roster if w.worker_id == s.worker_id), v)
               for s in found)
    assert not {s.worker_id for s in found} & exclude


def test_index_updates_and_removals():
    index = MarketIndex()
    index.upsert(worker("a"))
    index.upsert(worker("a", date_of_birth=date(2015, 1, 1)))  # now too young
    assert index.best(vacancy(), 5) == []
    index.upsert(worker("b"))
    index.remove("b")
    assert len(index) == 1 and index.best(vacancy(start_date=date(2040, 1, 1)), 5)
