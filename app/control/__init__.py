"""The Kafka control plane: queue-events publisher, queue-control dispatcher, WS fan-out."""
