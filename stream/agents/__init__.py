"""Thin Faust wiring: each agent moves bytes between Kafka and a pure pipeline."""
