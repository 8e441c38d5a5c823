"""iqa_bench."""
