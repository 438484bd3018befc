"""Server-sent events: what changed that a signed-in client may read (ids and statuses
only), from the ``changes`` table the projector writes with its folds."""
