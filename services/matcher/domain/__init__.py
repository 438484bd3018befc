"""Pure matching rules: no Kafka, no HTTP, no database."""
