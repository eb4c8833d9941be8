"""The event API and the writes that span events, partners and deliveries: ingestion, reversals, erasure."""
