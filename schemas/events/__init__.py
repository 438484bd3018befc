"""Event payloads, one module per entity. Every class here is a versioned contract:
change it only in backward-compatible ways within a major version (see schemas/compat.py).
"""
