"""Queue state storage: the QueueStore port and its adapters (SQLite, ArangoDB)."""
