"""newsworker: a Kafka stream worker that normalizes, tags and links news articles."""

__version__ = "0.1.0"
