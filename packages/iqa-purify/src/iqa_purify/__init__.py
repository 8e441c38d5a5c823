"""iqa_purify."""
