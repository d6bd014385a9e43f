"""MOEX ISS+ real-time loader: STOMP 1.2 over WebSocket (see shared/protocols/moex.md)."""
