"""Dead-letter records: the record exactly as it came (key, value, headers) plus
headers saying why it was refused and where it was read, so nothing is lost and an
operator can replay it once the cause is fixed."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.envelope import Headers

ERROR = "dlq_error"
TOPIC = "dlq_topic"
PARTITION = "dlq_partition"
OFFSET = "dlq_offset"
CONSUMER = "dlq_consumer"
TIME = "dlq_time"


def dead_letter_topic(source_topic: str) -> str:
    return f"{source_topic}.dlq"


def dead_letter_headers(headers: Headers | None, *, error: str, topic: str, partition: int,
                        offset: int, consumer: str) -> Headers:
    kept = [(k, v) for k, v in headers or () if not k.startswith("dlq_")]
    return kept + [
        (ERROR, error[:2000].encode()),
        (TOPIC, topic.encode()),
        (PARTITION, str(partition).encode()),
        (OFFSET, str(offset).encode()),
        (CONSUMER, consumer.encode()),
        (TIME, datetime.now(UTC).isoformat().encode()),
    ]


def reason_of(headers: Headers | None) -> str | None:
    for k, v in headers or ():
        if k == ERROR:
            return v.decode()
    return None
