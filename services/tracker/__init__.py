"""The tracker: follows placements from departure to return, detects overdue and
early returns, fires reintegration triggers. A faust-streaming app; the rules
live in ``domain/``."""
