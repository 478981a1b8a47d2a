"""Publishing: the contract outputs, the sub-district outbox and its delivery, the summary page."""
