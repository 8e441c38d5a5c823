"""iqa_attacks."""
