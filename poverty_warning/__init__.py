"""poverty-warning."""
