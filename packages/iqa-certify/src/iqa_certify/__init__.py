"""iqa_certify."""
