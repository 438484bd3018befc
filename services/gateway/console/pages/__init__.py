"""One module per area of the console, each with its ``router``; :data:`ROUTERS` is
what ``app.py`` mounts (its order is the order routes are matched in)."""

from services.gateway.console.pages import (
    account,
    agreements,
    departures,
    employers,
    offers,
    returns,
    review,
    roster,
    stats,
    triggers,
    users,
    vacancies,
    workers,
)

ROUTERS = [account.router, vacancies.router, review.router, roster.router, workers.router,
           offers.router, returns.router, agreements.router, employers.router,
           users.router, stats.router, departures.router, triggers.router]
