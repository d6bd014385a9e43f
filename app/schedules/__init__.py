"""Schedules: recurring queues, exactly once per slot."""
