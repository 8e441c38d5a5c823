"""Limits and default tolerances of ``iqa-bench verify`` (imports nothing: the CLI's help shows them)."""

MAX_BYTES = 64 * 2**20
"""Largest submission file read (``--max-bytes`` changes it)."""
MAX_DEPTH = 32
"""Deepest nesting a submission may have (a real one is about 7 levels deep)."""
DEFAULT_RTOL = 1e-3
"""Relative tolerance when the entry or the check did not run on a CPU (``--rtol``)."""
DEFAULT_ATOL = 1e-6
"""Absolute tolerance beside it (``--atol``): values near zero (L-inf of a clean row, MSE)."""
DEFAULT_SAMPLE = 8
"""Cells re-run by default (``--sample``)."""
