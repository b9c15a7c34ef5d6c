"""The monitoring app built on direct calls between constructor-injected services."""
