"""The prior-authorization worker: Kafka in and out around the pure ``policy`` package."""

__version__ = "0.1.0"
