"""The coverage map: what landed per exchange, symbol, data type and UTC day, and filling
what did not (docs/architecture.md, "Coverage")."""
