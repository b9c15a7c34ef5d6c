"""The monitoring app built on an event bus: services react to events and answer requests over the bus."""
