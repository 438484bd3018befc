"""The matcher: legal vacancies only, eligible workers only, ranked proposals,
quotas that hold. A faust-streaming app; the decisions live in ``domain/``."""
