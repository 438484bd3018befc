"""Writes the sample rosters next to this file, the same every run (fictional people:
names drawn from common Armenian first names and surnames, passports AM0000001 on,
phone numbers in +374 00, which no operator uses, e-mail under example.org):

- ``roster.csv``: 300 workers, every row valid (rows 281 to 300 leave ``worker_id``
  empty: the import finds them again by their passport number);
- ``roster-with-errors.csv``: 12 rows of which 7 are refused, one reason each.

``python deploy/sample/make_roster.py``; ``python -m services.gateway import-workers
deploy/sample/roster.csv --as <staff username>`` imports one."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ("worker_id", "full_name", "date_of_birth", "passport_number", "citizenship",
           "phone", "email", "region", "occupations", "skills", "languages",
           "preferred_destinations", "available_from", "consent_matching")
FIRST = ("Anahit", "Armen", "Gor", "Narek", "Lilit", "Mariam", "Tigran", "Hayk", "Ani", "Aram",
         "Karen", "Sona", "Davit", "Arpi", "Vardan", "Gayane", "Ruben", "Nare", "Levon",
         "Hasmik", "Artur", "Knarik", "Samvel", "Meri", "Vahe", "Astghik", "Suren", "Lusine",
         "Edgar", "Tatev", "Hrant", "Siranush", "Ashot", "Zaruhi", "Mher", "Elen")
LAST = ("Petrosyan", "Hakobyan", "Sargsyan", "Grigoryan", "Harutyunyan", "Khachatryan",
        "Mkrtchyan", "Avetisyan", "Vardanyan", "Karapetyan", "Ghazaryan", "Gasparyan",
        "Manukyan", "Poghosyan", "Hovhannisyan", "Stepanyan", "Martirosyan", "Abrahamyan",
        "Simonyan", "Mnatsakanyan", "Galstyan", "Davtyan", "Arakelyan", "Baghdasaryan")
REGIONS = ("Aragatsotn", "Ararat", "Armavir", "Gegharkunik", "Kotayk", "Lori", "Shirak",
           "Syunik", "Tavush", "Vayots Dzor", "Yerevan")
#: ISCO-08 unit group -> skills that go with it
TRADES = {
    "6111": ("tractor", "harvesting", "irrigation", "greenhouse"),
    "6112": ("pruning", "harvesting", "grafting"),
    "9211": ("harvesting", "packing", "sorting"),
    "6121": ("milking", "animal care"),
    "7112": ("masonry", "plastering"),
    "7115": ("carpentry", "formwork"),
    "7126": ("plumbing", "welding"),
    "7212": ("welding", "metal cutting"),
    "7411": ("wiring", "electrical safety"),
    "8332": ("driving licence c", "forklift"),
    "5120": ("cooking", "food safety"),
    "9412": ("food safety", "dishwashing"),
    "5131": ("serving", "food safety"),
    "9112": ("cleaning", "housekeeping"),
    "5322": ("elderly care", "first aid"),
}
DESTINATIONS = ("DE", "PL", "CZ", "FR", "IT", "LT")
LEVELS = ("A1", "A2", "B1", "B2", "C1")


def person(rng: random.Random, n: int, with_id: bool) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    born = date(1972, 1, 1) + timedelta(days=rng.randrange(0, 34 * 365))
    trades = rng.sample(sorted(TRADES), k=rng.choice((1, 1, 2, 3)))
    skills = sorted({s for t in trades for s in rng.sample(TRADES[t], k=min(2, len(TRADES[t])))})
    languages = ["hy:C2", f"ru:{rng.choice(LEVELS[1:])}"]
    if rng.random() < 0.5:
        languages.append(f"{rng.choice(('de', 'en', 'fr'))}:{rng.choice(LEVELS[:4])}")
    wanted = rng.sample(DESTINATIONS, k=rng.choice((0, 1, 2, 3)))
    return {
        "worker_id": f"am-roster-{n:04d}" if with_id else "",
        "full_name": f"{first} {last}",
        "date_of_birth": born.isoformat(),
        "passport_number": f"AM{n:07d}",
        "citizenship": "AM",
        "phone": f"+374 00 {n:06d}" if rng.random() < 0.8 else "",
        "email": f"{first.lower()}.{last.lower()}.{n}@example.org" if rng.random() < 0.5
        else "",
        "region": rng.choice(REGIONS),
        "occupations": ";".join(f"{t}:{rng.randint(0, 15)}" for t in trades),
        "skills": ";".join(skills),
        "languages": ";".join(languages),
        "preferred_destinations": ";".join(wanted),
        "available_from": (date(2027, 1, 1) + timedelta(days=rng.randrange(0, 180))).isoformat(),
        "consent_matching": "yes" if rng.random() < 0.95 else "no",
    }


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        out.writeheader()
        out.writerows(rows)


def main() -> None:
    rng = random.Random(2027)
    write(HERE / "roster.csv", [person(rng, n, with_id=n <= 280) for n in range(1, 301)])
    rows = [person(rng, n, with_id=True) for n in range(901, 913)]
    rows[1]["passport_number"] = "AM12"                   # row 3: too short
    rows[3]["occupations"] = "9999:3"                     # row 5: not an ISCO-08 code
    rows[4]["languages"] = "hy:C2;de:B9"                  # row 6: no such CEFR level
    rows[6]["date_of_birth"] = "2090-02-30"               # row 8: not a date
    rows[7]["consent_matching"] = "maybe"                 # row 9: neither yes nor no
    rows[9]["full_name"] = ""                             # row 11: required
    rows[11]["passport_number"] = rows[10]["passport_number"]  # row 13: passport of row 12
    write(HERE / "roster-with-errors.csv", rows)


if __name__ == "__main__":
    main()
