"""Validate a whole experiment grid against the installed components before anything runs.

Every component of the config must be installed, every preset must exist, every parameter must
be one its factory accepts, with a value of the right type. All problems are collected and raised
as one :class:`~iqa_bench.config.ConfigError` (the CLI prints it and exits 2), so a typo never
turns into a run whose every row failed. Value ranges are checked by the components themselves
when they are built (at the contract boundary).
"""

from __future__ import annotations

from iqa_core import registry
from iqa_core.registry import ComponentNotFoundError
from iqa_core.validation import parameter_problems

from .config import ALL_PRESETS, BenchConfig, ComponentConfig, ConfigError

_SECTIONS = (
    ("metrics", "metric"),
    ("attacks", "attack"),
    ("defences", "defence"),
    ("certifiers", "certifier"),
    ("measures", "measure"),
)


def _check_component(kind: str, spec: ComponentConfig, where: str) -> list[str]:
    try:
        registry.factory(kind, spec.name)
    except ComponentNotFoundError as error:
        return [f"{where}: {error}"]
    problems: list[str] = []
    table = registry.presets(kind, spec.name)
    for preset in spec.presets:
        if preset is None or preset == ALL_PRESETS:
            continue
        if preset not in table:
            options = ", ".join(table) if table else "none (omit `presets`)"
            problems.append(f"{where}.presets: {kind} {spec.name!r} has no preset {preset!r}; its presets: {options}")
    factory = registry.factory(kind, spec.name)
    call = getattr(factory, "factory", factory)  # runtime registrations wrap the factory
    problems.extend(f"{where}.params.{problem}" for problem in parameter_problems(call, spec.params))
    return problems


def grid_problems(config: BenchConfig) -> list[str]:
    """Every problem of the config's components, presets and parameters (empty when it is valid)."""
    problems: list[str] = []
    for section, kind in _SECTIONS:
        for i, spec in enumerate(getattr(config, section)):
            problems.extend(_check_component(kind, spec, f"{section}[{i}] ({spec.name})"))
    return problems


def validate_grid(config: BenchConfig) -> None:
    """Raise one :class:`ConfigError` listing every problem of the grid."""
    problems = grid_problems(config)
    if problems:
        listing = "\n  - ".join(problems)
        raise ConfigError(f"the configuration has {len(problems)} problem(s):\n  - {listing}")
