"""Circular's event contracts: pydantic models, the envelope and codec, the topic
catalogue, and the documents generated from them (``schemas/generated/``)."""
