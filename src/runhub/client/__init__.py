"""runhub client: submit results to runhub (or Testmo) from any JUnit report."""
