"""How well an eligible worker fits a vacancy: a score in [0, 1] with the reasons a
recruiter reads (SPEC 3.4).

    base = 0.5 x share of the vacancy's required skills the worker has (all, if none)
         + 0.3 x e / (e + 3), e = years of experience beyond the minimum
         + 0.2 if the worker returned on time from an earlier placement
    score = 0.8 + 0.2 x base   for a re-hire (returned on time from this employer)
            0.79 x base        otherwise

(the weights are SKILLS_WEIGHT, EXPERIENCE_WEIGHT, RETURN_WEIGHT, REHIRE_FLOOR and
OTHERS_CEILING below, and :func:`base` is the one place the terms are summed).

The experience term saturates but never stops growing: every further year counts
(3 years beyond the minimum earn half of it, 60 years still less than all of it).
So, all else equal, more skills, more experience and an on-time return each rank
higher, and a named re-hire outranks every other candidate. Scores are rounded to
six decimals, finer than the smallest step any of these orderings makes (one year
at 60 beyond the minimum for a re-hire: about 5e-5). Ties are broken by worker id,
so the order is total and repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from services.matcher.domain.views import VacancyView, WorkerView

#: the weights of the base score's terms (they sum to 1); the one place they are set:
#: the pure rule below, the vectorised search (candidates) and the offer board's
#: bound (proposals) all compute the base with :func:`base`
SKILLS_WEIGHT = 0.5
EXPERIENCE_WEIGHT = 0.3
RETURN_WEIGHT = 0.2
#: years beyond the minimum at which the experience term reaches half its weight
EXPERIENCE_HALF_YEARS = 3
REHIRE_FLOOR = 0.8
OTHERS_CEILING = 0.79
SCORE_DECIMALS = 6


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    weight: float


@dataclass(frozen=True)
class Scored:
    worker_id: str
    score: float
    reasons: tuple[Reason, ...]

    @property
    def rank_key(self) -> tuple[float, str]:
        """Sort ascending by this: best first."""
        return (-self.score, self.worker_id)


def experience_share(extra_years: int) -> float:
    """In [0, 1), strictly increasing in the years beyond the minimum."""
    extra = max(0, extra_years)
    return extra / (extra + EXPERIENCE_HALF_YEARS)


def base(coverage: Any, experience: Any, returned: Any) -> Any:
    """The weighted sum of the three terms, for one worker (floats) or many (numpy
    arrays): the same operations in the same order, so the same doubles."""
    return SKILLS_WEIGHT * coverage + EXPERIENCE_WEIGHT * experience + RETURN_WEIGHT * returned


class _Terms(NamedTuple):  # a tuple: made for every candidate a market checks
    value: float
    covered: int
    coverage: float
    extra: int
    experience: float
    rehire: bool
    scale: float


def _terms(worker: WorkerView, vacancy: VacancyView) -> _Terms:
    required = vacancy.required_skills
    covered = len(required & worker.skills)
    coverage = covered / len(required) if required else 1.0
    extra = max(0, worker.occupations.get(vacancy.isco_code, 0) - vacancy.min_experience_years)
    experience = experience_share(extra)
    returned = 1.0 if worker.returned_on_time else 0.0
    rehire = vacancy.employer_id in worker.rehire_employers
    weighted = base(coverage, experience, returned)
    scale, floor = (1 - REHIRE_FLOOR, REHIRE_FLOOR) if rehire else (OTHERS_CEILING, 0.0)
    return _Terms(round(floor + scale * weighted, SCORE_DECIMALS), covered, coverage, extra,
                  experience, rehire, scale)


def score_value(worker: WorkerView, vacancy: VacancyView) -> float:
    """The worker's score for the vacancy (:func:`score`'s), without its reasons."""
    return _terms(worker, vacancy).value


def score(worker: WorkerView, vacancy: VacancyView) -> Scored:
    t = _terms(worker, vacancy)
    required = vacancy.required_skills
    reasons = [
        Reason("skills", f"has {t.covered} of {len(required)} required skills" if required
               else "the vacancy lists no required skills",
               round(t.scale * SKILLS_WEIGHT * t.coverage, 4)),
        Reason("experience", f"{t.extra} year(s) of experience beyond the minimum",
               round(t.scale * EXPERIENCE_WEIGHT * t.experience, 4)),
    ]
    if worker.returned_on_time:
        reasons.append(Reason("returned_on_time", "returned on time from an earlier placement",
                              round(t.scale * RETURN_WEIGHT, 4)))
    if t.rehire:
        reasons.insert(0, Reason("rehire", "returned on time from this employer before",
                                 REHIRE_FLOOR))
    return Scored(worker.worker_id, t.value, tuple(reasons))
