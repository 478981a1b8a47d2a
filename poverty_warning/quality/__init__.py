"""Data quality: GX suites on each night's batch, the batch gate, and the reviewer's report."""
