"""Outreach: which cases go to which sub-district tonight (new, escalated, reminder, closed)."""
