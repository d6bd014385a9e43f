"""Pydantic models: API bodies, stored state, Kafka messages."""
