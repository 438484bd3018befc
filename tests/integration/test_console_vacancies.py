"""Console: an employer's vacancies (its own only), posting one with the errors at
their fields, a rejected vacancy's violations in words, the candidates it may see and
their names only once accepted; an admin sees and posts for every employer."""

from schemas.events.vacancies import VacancyEvaluated, Verdict, Violation
from tests.support.console import browser
from tests.support.gateway import advance_match, vacancy_body

FORM = {"title": "Apple picker", "destination_country": "DE", "isco_code": "6111",
        "positions": "3", "monthly_wage.amount": "2000", "monthly_wage.currency": "EUR",
        "contract_months": "6", "start_date": "2027-05-03",
        "required_skills": "Ladder, pruning ,", "min_experience_years": "1",
        "language_requirement.language": "de", "language_requirement.min_level": "A2",
        "housing_provided": "yes"}


def test_employer_sees_its_own_vacancies_only(api, world):
    assert api.post("admin", "/vacancies", json=vacancy_body(
        "v3", "e2", title="Vineyard <b>hand</b>")).status_code == 202
    b = browser(api, "emp1")
    r = b.get("/console/vacancies")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert 'href="/console/vacancies/v1"' in r.text and "Harvest hand" in r.text
    assert "Germany" in r.text and "Open" in r.text and "0 of 2" in r.text
    assert "Apr 1, 2027" in r.text  # the start date through Babel
    assert "/console/vacancies/v2" not in r.text and "Vineyard" not in r.text

    # another employer's vacancy: 403, and none of its data
    r = b.get("/console/vacancies/v2")
    assert r.status_code == 403 and "Harvest hand" not in r.text and "1,900" not in r.text
    r = b.get("/console/vacancies/v3")
    assert r.status_code == 403 and "Vineyard" not in r.text
    assert b.get("/console/vacancies/nope").status_code == 404
    # nor may it close one
    assert b.post("/console/vacancies/v2/close", {}).status_code == 403
    assert api.get("admin", "/vacancies/v2").json()["status"] == "open"


def test_admin_sees_every_vacancy_and_user_text_is_escaped(api, world):
    assert api.post("admin", "/vacancies", json=vacancy_body(
        "v3", "e2", title="Vineyard <b>hand</b>")).status_code == 202
    r = browser(api, "admin").get("/console/vacancies")
    assert r.status_code == 200
    for vid in ("v1", "v2", "v3"):
        assert f'href="/console/vacancies/{vid}"' in r.text
    assert "Vineyard &lt;b&gt;hand&lt;/b&gt;" in r.text and "<b>hand" not in r.text
    assert "Waiting for a decision" in r.text  # v3 is not evaluated yet


def test_workers_and_recruiters_get_the_403_page(api, world):
    for who in ("wk1", "rec"):
        b = browser(api, who)
        for path in ("/console/vacancies", "/console/vacancies/v1", "/console/vacancies/new"):
            r = b.get(path)
            assert r.status_code == 403, (who, path)
            assert "You may not see this page" in r.text and "Harvest hand" not in r.text
    r = browser(api).get("/console/vacancies", follow_redirects=False)
    assert r.status_code == 303 and "/console/sign-in" in r.headers["location"]


def test_employer_posts_a_vacancy_for_itself(api, world):
    b = browser(api, "emp1")
    r = b.get("/console/vacancies/new")
    assert r.status_code == 200 and 'for="f-monthly_wage.amount"' in r.text
    assert 'name="employer_id"' not in r.text  # fixed to its own
    r = b.post("/console/vacancies/new", {**FORM, "employer_id": "e2"})
    assert r.status_code == 200, r.text[:2000]
    assert "Vacancy Apple picker posted" in r.text and "<h1>Vacancy: Apple picker</h1>" in r.text
    assert "Waiting for a decision" in r.text and "ladder, pruning" in r.text
    assert "€2,000" in r.text and "German, at least A2" in r.text
    vid = r.url.path.rsplit("/", 1)[1]
    got = api.get("emp1", f"/vacancies/{vid}").json()
    assert got["employer_id"] == "e1" and got["positions"] == 3
    assert got["required_skills"] == ["ladder", "pruning"] and got["housing_provided"] is True
    assert got["language_requirement"] == {"language": "de", "min_level": "A2"}
    assert got["worker_fee"] is None


def test_bad_fields_are_shown_at_their_fields(api, world):
    b = browser(api, "emp1")
    r = b.post("/console/vacancies/new", {
        **FORM, "title": "", "monthly_wage.amount": "-5", "positions": "zero",
        "isco_code": "9999", "language_requirement.min_level": "", "start_date": "2027-02-30"})
    assert r.status_code == 422
    assert "Please correct the marked fields." in r.text
    assert ('<span class="error" id="title-error">This field is required.</span>' in r.text)
    assert 'id="positions-error">Enter a whole number.</span>' in r.text
    assert 'id="monthly_wage.amount-error">This value is not valid.</span>' in r.text
    assert 'id="isco_code-error">This value is not valid.</span>' in r.text
    assert 'id="language_requirement.min_level-error">This field is required.</span>' in r.text
    assert 'id="start_date-error">' in r.text
    assert 'aria-describedby="title-error"' in r.text
    # what was typed is kept
    assert 'value="Ladder, pruning ,"' in r.text and 'value="zero"' in r.text
    assert api.get("emp1", "/vacancies").json()["total"] == 1  # nothing posted


def test_field_errors_come_in_the_users_language(api, world):
    # the page and its messages go through the user's language catalog (the
    # translations are filled in by the translation pass); never an error's code
    r = browser(api, "emp1", language="ru").post("/console/vacancies/new",
                                                  {**FORM, "title": ""})
    assert r.status_code == 422 and '<html lang="ru">' in r.text
    assert 'id="title-error">' in r.text and ">missing<" not in r.text


def test_admin_chooses_the_employer_and_an_unknown_one_is_a_field_error(api, world):
    b = browser(api, "admin")
    r = b.get("/console/vacancies/new")
    assert '<select id="f-employer_id" name="employer_id" required>' in r.text
    assert "Hof e2 GmbH (e2)" in r.text
    r = b.post("/console/vacancies/new", {**FORM, "employer_id": "e9"})
    assert r.status_code == 422 and 'id="employer_id-error">No such record exists.' in r.text
    r = b.post("/console/vacancies/new", {**FORM, "employer_id": "e2"})
    assert r.status_code == 200 and "Vacancy Apple picker posted" in r.text
    assert api.get("emp2", "/vacancies").json()["total"] == 2


def test_a_rejected_vacancy_shows_its_violations_in_words(api, world):
    api.fold(VacancyEvaluated(vacancy_id="v1", employer_id="e1", agreement_id="am-de",
                              status=Verdict.REJECTED,
                              violations=[Violation.WAGE_BELOW_FLOOR,
                                          Violation.WORKER_FEE_CHARGED]))
    b = browser(api, "emp1")
    r = b.get("/console/vacancies/v1")
    assert r.status_code == 200 and "Rejected" in r.text
    assert "The wage is below the agreement&#39;s minimum" in r.text
    assert "A fee is charged to the worker (the employer must pay)" in r.text
    assert "wage_below_floor" not in r.text and "worker_fee_charged" not in r.text
    assert "Rejected" in b.get("/console/vacancies").text


def test_candidates_are_shown_from_approval_and_named_once_accepted(api, world):
    b = browser(api, "emp1")
    r = b.get("/console/vacancies/v1")
    assert r.status_code == 200 and "No candidates approved yet." in r.text  # proposed only
    advance_match(api, "w1", "v1", "e1", "approved")
    r = b.get("/console/vacancies/v1")
    assert "Approved" in r.text and "Name shown once the worker accepts" in r.text
    assert "Anahit Petrosyan" not in r.text
    advance_match(api, "w1", "v1", "e1", "accepted")
    r = b.get("/console/vacancies/v1")
    assert "Accepted" in r.text and "Anahit Petrosyan w1" in r.text
    # the other employer never sees it
    assert "Anahit Petrosyan" not in browser(api, "emp2").get("/console/vacancies/v1").text


def test_employer_closes_its_vacancy(api, world):
    b = browser(api, "emp1")
    r = b.get("/console/vacancies/v1")
    assert "Close this vacancy" in r.text
    r = b.post("/console/vacancies/v1/close", {})
    assert r.status_code == 200 and "The vacancy is closed" in r.text
    assert "Close this vacancy" not in r.text and "Closed" in r.text
    assert api.get("emp1", "/vacancies/v1").json()["status"] == "closed"
