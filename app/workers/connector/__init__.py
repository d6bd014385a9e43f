"""The arango-connector's parts: document stores, the topic copier, the loader watch."""
