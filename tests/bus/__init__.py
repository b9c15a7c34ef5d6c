"""Conformance suite of the event bus: written against ``EventBus``, run for every implementation."""
