"""Sub-commands of ``iqa-bench`` that own their options: each module has ``add_arguments(parser)`` and ``main(args)``.

Modules here import nothing heavy at module level (no torch, no plugins): ``iqa-bench --help``
builds every sub-parser.
"""
