"""Scores, ranking (SPEC 3.4), proposal limits and the candidate index."""

from datetime import date

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schemas.codes import CefrLevel
from services.matcher.domain.candidates import MarketIndex, naive_best
from services.matcher.domain.openings import Openings
from services.matcher.domain.proposals import capacity, plan
from services.matcher.domain.scoring import Scored, score, score_value
from tests.unit.matcher_factories import vacancy, worker
from tests.unit.matcher_oracle import pair_problems

SKILLS = ["tractor", "pruning", "irrigation", "welding", "forklift", "greenhouse"]
skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=6)


@given(skills=skill_sets, extra=skill_sets, years=st.integers(2, 60),
       returned=st.booleans(), rehire=st.booleans())
def test_more_required_skills_covered_ranks_higher(skills, extra, years, returned, rehire):
    assume(extra - skills)  # the second worker really covers more
    v = vacancy(required_skills=frozenset(SKILLS))
    employers = frozenset({"e1"}) if rehire else frozenset()
    less = worker(skills=skills, occupations={"6111": years}, returned_on_time=returned,
                  rehire_employers=employers)
    more = worker(skills=skills | extra, occupations={"6111": years},
                  returned_on_time=returned, rehire_employers=employers)
    assert score(more, v).score > score(less, v).score


@given(minimum=st.integers(0, 60), data=st.data(), skills=skill_sets, returned=st.booleans(),
       rehire=st.booleans())
def test_more_experience_above_the_minimum_ranks_higher(minimum, data, skills, returned,
                                                        rehire):
    """Every year counts, up to the 60 years a profile may list."""
    years = data.draw(st.integers(minimum, 60), label="years")
    more = data.draw(st.integers(years + 1, 61), label="more")
    assume(more <= 60)
    v = vacancy(min_experience_years=minimum, required_skills=frozenset(SKILLS))
    employers = frozenset({"e1"}) if rehire else frozenset()
    a = worker(occupations={"6111": years}, skills=skills, returned_on_time=returned,
               rehire_employers=employers)
    b = worker(occupations={"6111": more}, skills=skills, returned_on_time=returned,
               rehire_employers=employers)
    assert score(b, v).score > score(a, v).score


def test_experience_keeps_counting_past_ten_years():
    v = vacancy(min_experience_years=0)
    scores = [score(worker(occupations={"6111": years}), v).score for years in range(61)]
    assert scores == sorted(set(scores))  # strictly increasing, 0 to 60 years
    assert score(worker(occupations={"6111": 12}), v).score > \
        score(worker(occupations={"6111": 11}), v).score


@given(years=st.integers(2, 60), skills=skill_sets)
def test_an_on_time_returnee_ranks_above_a_first_time_migrant(years, skills):
    v = vacancy()
    first = worker(occupations={"6111": years}, skills=skills)
    back = worker(occupations={"6111": years}, skills=skills, returned_on_time=True)
    assert score(back, v).score > score(first, v).score


@given(rehire_years=st.integers(2, 60), rehire_skills=skill_sets,
       other_years=st.integers(2, 60), other_skills=skill_sets, other_back=st.booleans())
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
    assert s.reasons[2].text == "3 year(s) of experience beyond the minimum"


@given(years=st.integers(0, 60), minimum=st.integers(0, 60), skills=skill_sets,
       required=skill_sets, returned=st.booleans(), rehire=st.booleans())
def test_every_score_lies_in_0_1(years, minimum, skills, required, returned, rehire):
    s = score(worker(occupations={"6111": years}, skills=skills, returned_on_time=returned,
                     rehire_employers=frozenset({"e1"}) if rehire else frozenset()),
              vacancy(min_experience_years=minimum, required_skills=required))
    assert 0 <= s.score <= 1
    assert (s.score >= 0.8) is rehire  # the re-hire floor, and nobody else above it
    # the score alone (what the market checks a newcomer by first) is the same number
    assert score_value(worker(occupations={"6111": years}, skills=skills,
                              returned_on_time=returned,
                              rehire_employers=frozenset({"e1"}) if rehire else frozenset()),
                       vacancy(min_experience_years=minimum, required_skills=required)
                       ) == s.score


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
    # as many as the limit allows are kept, and nobody kept scores below anyone dropped
    assert len(after) == min(limit, len(set(live) | {w for w, _ in fresh}))
    dropped = [s for w, s in fresh if w not in after and w not in live]
    dropped += [live[w] for w in p.withdraw]
    kept = [live[w] for w in after if w in live] + [c.score for c in p.propose]
    if dropped and kept:
        assert min(kept) >= max(dropped)


birthdays = st.dates(min_value=date(1955, 1, 1), max_value=date(2012, 12, 31))
workers = st.builds(
    lambda i, born, years, skills, langs, avail, cons, pref, busy, back, cool, origin, gone:
    worker(f"w{i}", date_of_birth=born, occupations={"6111": years}, skills=skills,
           languages=langs, available_from=avail, consent_matching=cons,
           preferred_destinations=pref, busy=busy, returned_on_time=back, reentry_from=cool,
           citizenship=origin, erased=gone),
    st.integers(0, 10**6), birthdays, st.integers(0, 20), skill_sets,
    st.dictionaries(st.sampled_from(["de", "en"]), st.sampled_from(list(CefrLevel)),
                    max_size=2),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)), st.booleans(),
    st.sampled_from([frozenset(), frozenset({"DE"}), frozenset({"KR"})]), st.booleans(),
    st.booleans(), st.none() | st.dates(min_value=date(2026, 6, 1),
                                        max_value=date(2027, 9, 1)),
    st.sampled_from(["AM", "AM", "GE"]), st.booleans())
vacancies = st.builds(
    lambda start, lo, span, req, exp, origin: vacancy(
        start_date=start, min_age=lo, max_age=lo + span, required_skills=req,
        min_experience_years=exp, agreement_language=("de", CefrLevel.A2),
        origin_country=origin),
    st.dates(min_value=date(2026, 6, 1), max_value=date(2028, 6, 1)), st.integers(16, 40),
    st.integers(0, 30), skill_sets, st.integers(0, 6), st.sampled_from(["AM", "GE"]))


def oracle_says_eligible(w, v):
    """The independent reading of SPEC 3.3 (tests/unit/matcher_oracle.py) on the views'
    data."""
    person = {"date_of_birth": w.date_of_birth, "citizenship": w.citizenship,
              "occupations": [{"isco_code": k, "experience_years": n}
                              for k, n in w.occupations.items()],
              "languages": [{"language": k, "level": x.value} for k, x in w.languages.items()],
              "preferred_destinations": sorted(w.preferred_destinations),
              "available_from": w.available_from, "consent_matching": w.consent_matching,
              "erased": w.erased, "busy": w.busy, "reentry_from": w.reentry_from}

    def language(x):
        return None if x is None else {"language": x[0], "min_level": x[1].value}

    job = {"destination_country": v.destination_country, "isco_code": v.isco_code,
           "start_date": v.start_date, "min_experience_years": v.min_experience_years,
           "language_requirement": language(v.language_requirement), "positions": v.positions}
    terms = {"origin_country": v.origin_country, "min_age": v.min_age, "max_age": v.max_age,
             "language_requirement": language(v.agreement_language),
             "occupations": [{"isco_code": v.isco_code, "annual_quota": v.annual_quota}]}
    return pair_problems(person, job, terms, quota_used=0, positions_taken=0) == []


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
    assert index.fallbacks == 0  # found by the columns, not by the full scan
    # and it is the best of the eligible, as the spec reads (not as the code filters)
    eligible = [score(w, v) for w in roster
                if w.worker_id not in exclude and oracle_says_eligible(w, v)]
    assert found == sorted(eligible, key=lambda s: s.rank_key)[:limit]


def test_the_index_looks_only_at_the_agreements_citizens():
    index = MarketIndex()
    for n in range(50):
        index.upsert(worker(f"am{n}"))
        index.upsert(worker(f"ge{n}", citizenship="GE"))
    index.upsert(worker("silent", consent_matching=False))
    looked_at = {w.worker_id for w in index.searched(vacancy(origin_country="GE"))}
    assert looked_at == {f"ge{n}" for n in range(50)}
    assert [s.worker_id for s in index.best(vacancy(origin_country="GE"), 3)] == [
        "ge0", "ge1", "ge10"]
    assert "silent" in index and "silent" not in {
        w.worker_id for w in index.searched(vacancy())}


def test_index_updates_and_removals():
    index = MarketIndex()
    index.upsert(worker("a"))
    index.upsert(worker("a", date_of_birth=date(2015, 1, 1)))  # now too young
    assert index.best(vacancy(), 5) == []
    index.upsert(worker("b"))
    index.remove("b")
    assert len(index) == 1 and index.best(vacancy(start_date=date(2040, 1, 1)), 5)
    index.upsert(worker("a", citizenship="GE"))  # moves to another origin
    assert index.best(vacancy(start_date=date(2040, 1, 1)), 5) == []
    index.upsert(worker("a", busy=True))  # known, not searched
    assert "a" in index and index.best(vacancy(start_date=date(2040, 1, 1)), 5) == []
    index.remove("a")
    assert len(index) == 0 and "a" not in index


many_skills = [f"skill{n}" for n in range(70)]  # more than a skill mask has bits for
changes = st.lists(st.tuples(
    st.integers(0, 30), st.integers(0, 12),
    st.frozensets(st.sampled_from(many_skills), max_size=6),
    st.frozensets(st.sampled_from(["e1", "e2"]), max_size=2), st.booleans(), st.booleans(),
    st.booleans()), max_size=80)


@settings(max_examples=100, deadline=None)
@given(steps=changes, required=st.frozensets(st.sampled_from(many_skills[55:]), max_size=4),
       employer=st.sampled_from(["e1", "e2"]), hinted=st.booleans(), limit=st.integers(1, 8))
def test_the_index_follows_changes_rehires_and_any_number_of_skills(
        steps, required, employer, hinted, limit):
    """Workers added, changed and removed in any order, re-hires of the vacancy's
    employer, and more distinct skills than the skill mask holds: the columns still
    find exactly what a full scan finds, and never need the fallback."""
    index = MarketIndex("DE-6111" if hinted else None)
    # first, a worker with 63 skills: every skill after them gets a column of its own
    everything = worker("w-all", occupations={"6111": 1}, skills=frozenset(many_skills[:63]))
    index.upsert(everything)
    known: dict[str, object] = {"w-all": everything}
    v = vacancy(employer_id=employer, required_skills=required, min_experience_years=1)
    for n, (who, years, skills, rehire, back, busy, drop) in enumerate(steps):
        worker_id = f"w{who}"
        if drop:
            index.remove(worker_id)
            known.pop(worker_id, None)
            continue
        w = worker(worker_id, occupations={"6111": years}, skills=skills,
                   rehire_employers=rehire, returned_on_time=back or bool(rehire), busy=busy)
        index.upsert(w)
        known[worker_id] = w
        if n % 7 == 0:  # searches between changes make columns at different moments
            assert index.best(v, limit) == naive_best(known.values(), v, limit)
    assert index.best(v, limit) == naive_best(known.values(), v, limit)
    assert len(index) == len(known)
    # each worker held once, searchable or not, and found by id as it was given
    assert sorted(w.worker_id for w in index) == sorted(known)
    assert all(index.get(worker_id) is w and worker_id in index
               for worker_id, w in known.items())
    assert index.get("w-nobody") is None and "w-nobody" not in index
    assert index.fallbacks == 0


def test_the_weights_are_set_in_one_place_for_the_rule_and_the_index(monkeypatch):
    """The vectorised search scores with the same weights as the pure rule: change
    them in :mod:`scoring` and both follow (the index finds its candidates by the
    columns, not by the full-scan fallback, whose scores would follow trivially)."""
    from services.matcher.domain import scoring

    weights = (scoring.SKILLS_WEIGHT, scoring.EXPERIENCE_WEIGHT, scoring.RETURN_WEIGHT)
    assert abs(sum(weights) - 1) < 1e-12
    v = vacancy(required_skills=frozenset({"tractor", "pruning"}))
    roster = [worker("skilled", skills=frozenset({"tractor", "pruning"}),
                     occupations={"6111": 2}),
              worker("seasoned", skills=frozenset(), occupations={"6111": 40}),
              worker("back", skills=frozenset({"tractor"}), occupations={"6111": 2},
                     returned_on_time=True)]
    for skills, experience, returned, first in ((0.5, 0.3, 0.2, "skilled"),
                                                (0.1, 0.8, 0.1, "seasoned"),
                                                (0.1, 0.1, 0.8, "back")):
        monkeypatch.setattr(scoring, "SKILLS_WEIGHT", skills)
        monkeypatch.setattr(scoring, "EXPERIENCE_WEIGHT", experience)
        monkeypatch.setattr(scoring, "RETURN_WEIGHT", returned)
        index = MarketIndex()
        for w in roster:
            index.upsert(w)
        found = index.best(v, 3, set())
        assert index.fallbacks == 0
        assert found == sorted((score(w, v) for w in roster), key=lambda s: s.rank_key)
        assert found[0].worker_id == first
        openings = Openings()  # the offer board's columns: full at the best's score,
        openings.set(v, found[0].score)  # only the best may enter
        assert [w.worker_id for w in roster
                if openings.candidates(w, w.occupations["6111"])] == [first]
