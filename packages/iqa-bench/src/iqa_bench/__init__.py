"""iqa-bench: the benchmark of NR-IQA defences (datasets, runner, scores, leaderboard).

It composes metrics, attacks, defences and certifiers found through the ``iqa_core`` registry;
it imports none of the other packages.
"""

__version__ = "0.4.1"
