"""Application services: queue lifecycle, dispatcher, reconciliation, WebSocket fan-out."""
