"""Real, loopback stand-ins for external services (no mocks)."""
