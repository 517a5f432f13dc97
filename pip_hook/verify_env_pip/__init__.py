"""pipv: pip, then verification (lands with the pipv issue)."""
