"""Composition root: builds the matcher's faust app from settings. Nothing runs
until a worker starts the app; tests build their own with a fresh topic prefix.

Four stages, each a faust agent with its own changelog-backed table:

    circular.agreements --> agreement-router --> agreements-broadcast (every partition)
    employers, vacancies, agreements-broadcast --> legality (by employer)
        --> vacancy-status (public), market (internal, by market)
    workers, match-responses, matches, placements, triggers, agreements-broadcast
        --> workers (by worker) --> market
    market, match-reviews --> market (by labour market)
        --> matches, vacancy-status, quota (public)
"""

from __future__ import annotations

from typing import Any

import faust

from eventbus.faustapp import make_app
from eventbus.stage import Stage
from schemas import topics as t
from services.matcher.agreement_router import AgreementRouter
from services.matcher.legality_stage import LegalityShard
from services.matcher.market_stage import MarketShard
from services.matcher.settings import MatcherSettings
from services.matcher.worker_router import WorkerRouter

SOURCE = "/circular/matcher"


def build(settings: MatcherSettings) -> faust.App:
    name = settings.topic
    app = make_app(name(t.MATCHER_APP), settings, web_port=settings.matcher_web_port,
                   table_store=settings.table_store,
                   table_max_age_hours=settings.table_store_max_age_hours)
    common: dict[str, Any] = {"source": SOURCE, **settings.stage_options()}

    router = AgreementRouter(name(t.MATCHER_AGREEMENTS_BROADCAST.name), t.PARTITIONS)
    Stage(app=app, name="agreement-router", topics=(name(t.AGREEMENTS.name),),
          handler=router.handle, table=app.Table("agreement-router", partitions=t.PARTITIONS),
          **common).install()

    legality = LegalityShard(name(t.VACANCY_STATUS.name), name(t.MATCHER_MARKET.name))
    Stage(app=app, name="legality",
          topics=(name(t.EMPLOYERS.name), name(t.VACANCIES.name),
                  name(t.MATCHER_AGREEMENTS_BROADCAST.name)),
          handler=legality.handle, table=app.Table("legality", partitions=t.PARTITIONS),
          indexes=legality.indexes, **common).install()

    workers = WorkerRouter(name(t.MATCHER_MARKET.name), t.PARTITIONS)
    Stage(app=app, name="workers",
          topics=(name(t.WORKERS.name), name(t.MATCH_RESPONSES.name), name(t.MATCHES.name),
                  name(t.PLACEMENTS.name), name(t.TRIGGERS.name),
                  name(t.MATCHER_AGREEMENTS_BROADCAST.name)),
          handler=workers.handle, table=app.Table("workers", partitions=t.PARTITIONS),
          indexes=workers.indexes, after_batch=workers.after_batch, **common).install()

    market = MarketShard(name(t.MATCHES.name), name(t.VACANCY_STATUS.name),
                         name(t.QUOTA.name))
    Stage(app=app, name="market",
          topics=(name(t.MATCHER_MARKET.name), name(t.MATCH_REVIEWS.name)),
          handler=market.handle, table=app.Table("market", partitions=t.PARTITIONS),
          indexes=market.indexes, **common).install()
    return app
