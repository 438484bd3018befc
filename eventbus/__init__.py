"""Plumbing that carries Circular's events over Apache Kafka: settings, topic
administration, structured logs, dead letters, and the faust stage that gives
every stream processor decoding, deduplication and a write-ahead outbox."""
