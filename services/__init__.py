"""Circular's services. None imports another: they meet on Kafka and share only
``schemas`` (contracts) and ``eventbus`` (plumbing)."""
