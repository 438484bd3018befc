"""Pure tracking rules: no Kafka, no HTTP, no database."""
