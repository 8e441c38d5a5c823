"""Component registry over entry points (pyiqa-style names, torchattacks-style one class each).

Packages declare components as entry points::

    [project.entry-points."iqa.attacks"]
    ifgsm = "iqa_attacks.ifgsm:IFGSM"

The object behind an entry point is a factory (usually the class). It may define

* ``presets: dict[str, dict[str, Any]]`` - named parameter sets, ordered weak to strong;
* ``default_preset: str`` - the preset used when none is asked for (the paper's default).

``create(kind, name, preset=None, **params)`` builds a component: the preset's parameters
(``default_preset`` when ``preset`` is None), overridden by ``params``. Entry points are read
lazily: listing names imports nothing of the plugins.

A package may ship ``components.json`` beside its top-level ``__init__.py`` (see
:func:`spec_document`; ``tools/release/gen_component_specs.py`` writes it and each package's tests
keep it equal to its classes): :func:`spec` then describes a component - presets, default preset,
summary - without importing the plugin (and torch), which keeps ``iqa-bench list --presets`` fast.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import KNOWN_COMPONENTS

GROUPS: dict[str, str] = {
    "metric": "iqa.metrics",
    "attack": "iqa.attacks",
    "defence": "iqa.defences",
    "denoiser": "iqa.denoisers",
    "certifier": "iqa.certifiers",
    "measure": "iqa.measures",  # full-reference measures (PSNR, SSIM, LPIPS, ...): not Metrics
}
KINDS: tuple[str, ...] = tuple(GROUPS)
_KIND_NOTES = {
    "measure": " (a full-reference measure takes (reference, distorted), it is not a no-reference Metric)",
}


SPEC_FILE = "components.json"
SPEC_FORMAT = 1


class ComponentNotFoundError(LookupError):
    """No installed component of that kind and name."""


class PresetNotFoundError(KeyError):
    """The component has no preset of that name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


@dataclass
class _Entry:
    name: str
    kind: str
    source: str  # "dist==version" or "<runtime>"
    target: str  # "module:attr" for display
    loader: Callable[[], Any]
    _factory: Any = field(default=None, repr=False)

    def load(self) -> Any:
        if self._factory is None:
            self._factory = self.loader()
        return self._factory


@dataclass(frozen=True)
class ComponentInfo:
    """What the registry knows of one component."""

    kind: str
    name: str
    source: str
    target: str
    presets: dict[str, dict[str, Any]]
    default_preset: str | None
    summary: str


def _top_package(target: str) -> str:
    return target.split(":", 1)[0].split(".", 1)[0]


def _read_shipped(package: str) -> dict[str, Any] | None:
    """The ``components.json`` of the installed top-level ``package`` (None when absent or unreadable).

    Located with :func:`importlib.util.find_spec`, which does not run the package's ``__init__``.
    """
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    locations = list(found.submodule_search_locations or []) if found is not None else []
    for folder in locations:
        path = Path(folder) / SPEC_FILE
        if path.is_file():
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if isinstance(document, dict) and document.get("format") == SPEC_FORMAT:
                return document
            return None
    return None


def normalise_name(name: str) -> str:
    """Registry names are case-insensitive; ``_`` and ``-`` are the same."""
    return name.strip().lower().replace("_", "-")


def _is_installed(distribution: str) -> bool:
    import importlib.metadata as md  # (imported when needed: `--help` of a CLI never reads metadata)

    try:
        md.distribution(distribution)
    except md.PackageNotFoundError:
        return False
    return True


def _check_kind(kind: str) -> str:
    if kind not in GROUPS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown component kind {kind!r}: use one of {', '.join(KINDS)}{hint}")
    return kind


class Registry:
    """Entry-point registry plus in-process registrations (tests, notebooks, plugins in development)."""

    def __init__(self) -> None:
        self._runtime: dict[str, dict[str, _Entry]] = {k: {} for k in KINDS}
        self._entry_points: dict[str, dict[str, list[_Entry]]] | None = None
        self._shipped: dict[str, dict[str, Any] | None] = {}

    # -------------------------------------------------------------- discovery
    def _discovered(self) -> dict[str, dict[str, list[_Entry]]]:
        if self._entry_points is None:
            import importlib.metadata as md

            found: dict[str, dict[str, list[_Entry]]] = {k: {} for k in KINDS}
            for kind, group in GROUPS.items():
                for ep in md.entry_points(group=group):
                    dist = getattr(ep, "dist", None)
                    source = f"{dist.name}=={dist.version}" if dist is not None else "<unknown>"
                    entry = _Entry(normalise_name(ep.name), kind, source, ep.value, ep.load)
                    bucket = found[kind].setdefault(entry.name, [])
                    if not any(e.target == entry.target for e in bucket):
                        bucket.append(entry)
            self._entry_points = found
        return self._entry_points

    def refresh(self) -> None:
        """Forget cached entry points (after installing a plugin in a running process)."""
        self._entry_points = None
        self._shipped = {}

    def _entry(self, kind: str, name: str) -> _Entry:
        kind = _check_kind(kind)
        key = normalise_name(name)
        if key in self._runtime[kind]:
            return self._runtime[kind][key]
        entries = self._discovered()[kind].get(key, [])
        if len(entries) > 1:
            sources = ", ".join(f"{e.target} ({e.source})" for e in entries)
            raise ComponentNotFoundError(
                f"{kind} {name!r} is registered by several packages: {sources}; uninstall one of them"
            )
        if entries:
            return entries[0]
        raise ComponentNotFoundError(self._not_found_message(kind, key))

    def _not_found_message(self, kind: str, key: str) -> str:
        names = self.available(kind)
        provider = KNOWN_COMPONENTS.get(kind, {}).get(key)
        if provider is not None:
            if _is_installed(provider):
                return (
                    f"{kind} {key!r} belongs to {provider}, but the installed version does not provide it; "
                    f"upgrade with `pip install -U {provider}`"
                )
            return (
                f"{kind} {key!r} is provided by the package {provider}, which is not installed: "
                f"`pip install {provider}`"
            )
        msg = f"no {kind} named {key!r}"
        elsewhere = [
            other
            for other in KINDS
            if other != kind
            and (
                key in self._discovered()[other]
                or key in self._runtime[other]
                or key in KNOWN_COMPONENTS.get(other, {})
            )
        ]
        if elsewhere:
            other = elsewhere[0]
            return f"{key!r} is not a {kind} but a {other}: use create({other!r}, {key!r}){_KIND_NOTES.get(other, '')}"
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
        known_close = difflib.get_close_matches(key, list(KNOWN_COMPONENTS.get(kind, {})), n=3, cutoff=0.5)
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elif known_close:
            provider_close = KNOWN_COMPONENTS[kind][known_close[0]]
            msg += f"; did you mean {', '.join(repr(c) for c in known_close)} (from {provider_close})?"
        msg += f" Installed {kind}s: {', '.join(names) if names else 'none'}"
        return msg

    # -------------------------------------------------------------- public API
    def register(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        *,
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        default_preset: str | None = None,
        replace: bool = False,
    ) -> None:
        """Register ``factory`` under ``name`` in this process (entry points need no call)."""
        kind = _check_kind(kind)
        key = normalise_name(name)
        if not replace and (key in self._runtime[kind] or key in self._discovered()[kind]):
            raise ValueError(f"{kind} {key!r} is already registered; pass replace=True to override it")
        target = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', repr(factory))}"
        entry = _Entry(key, kind, "<runtime>", target, lambda: factory, factory)
        if presets is not None or default_preset is not None:
            entry._factory = _WithPresets(factory, presets or {}, default_preset)
        self._runtime[kind][key] = entry

    def unregister(self, kind: str, name: str) -> None:
        """Remove an in-process registration."""
        self._runtime[_check_kind(kind)].pop(normalise_name(name), None)

    def available(self, kind: str) -> list[str]:
        """Sorted names of the installed components of ``kind``."""
        kind = _check_kind(kind)
        return sorted(set(self._discovered()[kind]) | set(self._runtime[kind]))

    def factory(self, kind: str, name: str) -> Any:
        """The object behind the name (imports the providing module)."""
        return self._entry(kind, name).load()

    def presets(self, kind: str, name: str) -> dict[str, dict[str, Any]]:
        """Named parameter sets of the component, in their declared (weak -> strong) order."""
        return {k: dict(v) for k, v in (getattr(self.factory(kind, name), "presets", None) or {}).items()}

    def default_preset(self, kind: str, name: str) -> str | None:
        return getattr(self.factory(kind, name), "default_preset", None)

    def describe(self, kind: str, name: str) -> ComponentInfo:
        entry = self._entry(kind, name)
        factory = entry.load()
        doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
        return ComponentInfo(
            kind=kind,
            name=entry.name,
            source=entry.source,
            target=entry.target,
            presets=self.presets(kind, name),
            default_preset=self.default_preset(kind, name),
            summary=doc[0] if doc else "",
        )

    def spec(self, kind: str, name: str) -> ComponentInfo:
        """As :meth:`describe`, from the providing package's ``components.json`` when it ships one.

        Nothing of the plugin is imported then (its preset values are as JSON has them: lists for
        tuples). Components registered at runtime, or missing from the file, are described by
        importing them (:meth:`describe`).
        """
        entry = self._entry(kind, name)
        if entry.source != "<runtime>":
            package = _top_package(entry.target)
            if package not in self._shipped:
                self._shipped[package] = _read_shipped(package)
            document = self._shipped[package] or {}
            item = document.get("components", {}).get(kind, {}).get(entry.name)
            if isinstance(item, dict) and item.get("target") == entry.target:
                return ComponentInfo(
                    kind=kind,
                    name=entry.name,
                    source=entry.source,
                    target=entry.target,
                    presets={k: dict(v) for k, v in (item.get("presets") or {}).items()},
                    default_preset=item.get("default_preset"),
                    summary=str(item.get("summary", "")),
                )
        return self.describe(kind, name)

    def resolve_params(self, kind: str, name: str, preset: str | None = None, **params: Any) -> dict[str, Any]:
        """The keyword arguments ``create`` would pass: preset values overridden by ``params``."""
        table = self.presets(kind, name)
        chosen = preset if preset is not None else self.default_preset(kind, name)
        merged: dict[str, Any] = {}
        if chosen is not None:
            if chosen not in table:
                options = ", ".join(table) if table else "none"
                raise PresetNotFoundError(f"{kind} {name!r} has no preset {chosen!r}; its presets: {options}")
            merged.update(table[chosen])
        merged.update(params)
        return merged

    def create(self, kind: str, name: str, preset: str | None = None, **params: Any) -> Any:
        """Build the component ``name`` of ``kind`` with ``preset`` and ``params``."""
        from .validation import ParameterError, parameter_problems  # (validation imports this module)

        factory = self.factory(kind, name)
        kwargs = self.resolve_params(kind, name, preset, **params)
        call = factory.factory if isinstance(factory, _WithPresets) else factory
        problems = parameter_problems(call, kwargs)
        if problems:
            raise ParameterError(f"cannot create {kind} {name!r}: " + "; ".join(problems))
        try:
            return call(**kwargs)
        except TypeError as error:
            raise TypeError(f"cannot create {kind} {name!r} with parameters {sorted(kwargs)}: {error}") from error


class _WithPresets:
    """Attach presets to a factory registered at runtime without touching the factory."""

    def __init__(self, factory: Callable[..., Any], presets: Mapping[str, Mapping[str, Any]], default: str | None):
        self.factory = factory
        self.presets = {k: dict(v) for k, v in presets.items()}
        self.default_preset = default
        self.__doc__ = getattr(factory, "__doc__", None)


def spec_document(distribution: str, registry: Registry | None = None) -> dict[str, Any]:
    """What ``components.json`` of ``distribution`` must hold, computed from its classes (imports them).

    Every entry point of ``distribution`` in the registry's groups, by kind and name: its target,
    the first line of its docstring, its default preset and its presets (as JSON has them).
    """
    import importlib.metadata as md

    chosen = registry if registry is not None else Registry()  # entry points only, no runtime registrations
    components: dict[str, dict[str, Any]] = {}
    for kind, group in GROUPS.items():
        for ep in md.entry_points(group=group):
            dist = getattr(ep, "dist", None)
            if dist is None or normalise_name(dist.name) != normalise_name(distribution):
                continue
            info = chosen.describe(kind, ep.name)
            components.setdefault(kind, {})[info.name] = {
                "target": info.target,
                "summary": info.summary,
                "default_preset": info.default_preset,
                "presets": json.loads(json.dumps(info.presets)),
            }
    ordered = {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}
    return {
        "format": SPEC_FORMAT,
        "comment": "generated by tools/release/gen_component_specs.py; read by iqa_core.registry.spec",
        "distribution": distribution,
        "components": ordered,
    }


def shipped_spec(package: str) -> dict[str, Any] | None:
    """The ``components.json`` the installed top-level ``package`` ships (None without one)."""
    return _read_shipped(package)


REGISTRY = Registry()
available = REGISTRY.available
create = REGISTRY.create
presets = REGISTRY.presets
default_preset = REGISTRY.default_preset
describe = REGISTRY.describe
spec = REGISTRY.spec
register = REGISTRY.register
unregister = REGISTRY.unregister
factory = REGISTRY.factory
resolve_params = REGISTRY.resolve_params
refresh = REGISTRY.refresh

__all__ = [
    "GROUPS",
    "KINDS",
    "REGISTRY",
    "SPEC_FILE",
    "ComponentInfo",
    "ComponentNotFoundError",
    "PresetNotFoundError",
    "Registry",
    "available",
    "create",
    "default_preset",
    "describe",
    "factory",
    "normalise_name",
    "presets",
    "refresh",
    "register",
    "resolve_params",
    "shipped_spec",
    "spec",
    "spec_document",
    "unregister",
]
