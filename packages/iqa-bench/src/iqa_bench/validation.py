"""Validate a whole experiment grid against the installed components before anything runs.

Every component of the config must be installed, every preset must exist, every parameter must
be one its factory accepts, with a value of the right type. All problems are collected and raised
as one :class:`~iqa_bench.config.ConfigError` (the CLI prints it and exits 2), so a typo never
turns into a run whose every row failed. Value ranges are checked by the components themselves
when they are built (at the contract boundary).
"""

from __future__ import annotations

import inspect
from typing import Any

from iqa_core import registry
from iqa_core.registry import ComponentNotFoundError

from .config import ALL_PRESETS, BenchConfig, ComponentConfig, ConfigError

_SECTIONS = (("metrics", "metric"), ("attacks", "attack"), ("defences", "defence"), ("certifiers", "certifier"))


def _signature(kind: str, name: str) -> inspect.Signature | None:
    factory = registry.factory(kind, name)
    call = getattr(factory, "factory", factory)  # runtime registrations wrap the factory
    try:
        return inspect.signature(call)
    except (TypeError, ValueError):
        return None


def _type_problem(value: Any, default: Any) -> str | None:
    """Why ``value`` cannot stand where the factory's default is ``default`` (None when it can)."""
    if default is inspect.Parameter.empty or default is None or value is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected an integer, got {value!r}"
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {value!r}"
    if isinstance(default, str):
        return None if isinstance(value, str) else f"expected a string, got {value!r}"
    return None


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
    signature = _signature(kind, spec.name)
    if signature is None:
        return problems
    parameters = signature.parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key, value in spec.params.items():
        if key not in parameters:
            if not open_ended:
                problems.append(
                    f"{where}.params.{key}: {kind} {spec.name!r} has no parameter {key!r}; "
                    f"its parameters: {', '.join(accepted) or 'none'}"
                )
            continue
        problem = _type_problem(value, parameters[key].default)
        if problem:
            problems.append(f"{where}.params.{key}: {problem}")
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
