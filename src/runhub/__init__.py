"""runhub: a self-hosted server for CI test automation results (Testmo-compatible API)."""

__version__ = "0.1.0"
