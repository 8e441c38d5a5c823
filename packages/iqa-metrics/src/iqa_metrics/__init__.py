"""iqa_metrics."""
