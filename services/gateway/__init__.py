"""The gateway: the HTTP API (FastAPI), its database (SQLAlchemy), the outbox relay
that publishes its events, and the projector that folds the other services'
events into the tables the API reads. Three processes, one service."""
