"""Kafka plumbing shared by the worker, the commands and the tests: the embedded broker, topics, clients."""
