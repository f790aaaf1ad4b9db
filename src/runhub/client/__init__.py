"""runhub client: submit results to runhub (or Testmo) from any JUnit report."""

from runhub.client.api import ApiConnectionError, ApiError, Client

__all__ = ["ApiConnectionError", "ApiError", "Client"]
