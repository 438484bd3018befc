"""Composition root: builds the matcher's faust app from settings. Nothing runs
until a worker starts the app; tests build their own with a fresh topic prefix."""

from __future__ import annotations

import faust

from eventbus.faustapp import make_app
from eventbus.stage import Stage
from schemas import topics as t
from services.matcher.agreement_router import AgreementRouter
from services.matcher.legality_stage import LegalityShard
from services.matcher.settings import MatcherSettings


def build(settings: MatcherSettings) -> faust.App:
    name = settings.topic
    app = make_app(name(t.MATCHER_APP), settings, web_port=settings.matcher_web_port)
    retention = settings.dedup_retention_hours * 3600

    router_table = app.Table("agreement-router", partitions=t.PARTITIONS)
    router = AgreementRouter(name(t.MATCHER_AGREEMENTS_BROADCAST.name), t.PARTITIONS)
    Stage(app=app, name="agreement-router", source="/circular/matcher",
          topics=(name(t.AGREEMENTS.name),), handler=router.handle, table=router_table,
          dedup_retention_s=retention).install()

    legality_table = app.Table("legality", partitions=t.PARTITIONS)
    shard = LegalityShard(name(t.VACANCY_STATUS.name))
    Stage(app=app, name="legality", source="/circular/matcher",
          topics=(name(t.EMPLOYERS.name), name(t.VACANCIES.name),
                  name(t.MATCHER_AGREEMENTS_BROADCAST.name)),
          handler=shard.handle, table=legality_table, indexes=shard.indexes,
          dedup_retention_s=retention).install()
    return app
