"""StreamForge queue-manager: control plane for market-data pipelines."""

__version__ = "0.1.0"
