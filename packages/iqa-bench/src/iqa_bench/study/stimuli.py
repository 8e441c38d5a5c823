"""``iqa-bench study prepare``: a run's images as a study's stimuli, pairs and checks.

For each sampled image x of the run (one dataset, metric and attack preset), the versions are the
images the run scored: x' (the attack's output, condition ``none``) and P(x') for every studied
defence preset, as in the benchmark's appendix A.2 (one reference, two processed images per
trial). x' comes from the run's adversarial cache (attacked again only when the entry is gone);
P(x') is recomputed with the run's seed, and its score is compared with the stored one, so the
study shows what the leaderboard measured. Checks pair the reference with a heavy blur or heavy
noise of it: the known answer is the reference.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import Tensor

from ..config import BenchConfig, load_config
from ..schema import NONE
from .design import (
    STIMULI_DIR,
    STUDY_FILE,
    VOTES_FILE,
    Check,
    Condition,
    Group,
    QCRule,
    Study,
    StudyError,
    all_pairs,
    condition_id,
    save_study,
)

SCORE_TOLERANCE = 1e-3
"""Relative difference allowed between a recomputed stimulus score and the stored one."""

DEGRADATIONS = ("blur", "noise")


def degrade(image: Tensor, kind: str, seed: int) -> Tensor:
    """A heavy, unmistakable degradation of ``image`` ``(3, H, W)``: Gaussian blur or Gaussian noise."""
    array = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    height, width = array.shape[:2]
    if kind == "blur":
        radius = max(2.0, min(height, width) / 12)
        out = np.asarray(Image.fromarray(array).filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255
    elif kind == "noise":
        rng = np.random.default_rng(seed)
        out = np.clip(array.astype(np.float32) / 255 + rng.normal(0.0, 0.25, array.shape), 0, 1)
    else:
        raise ValueError(f"unknown degradation {kind!r}; choose from {DEGRADATIONS}")
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).permute(2, 0, 1)


def save_png(image: Tensor, path: Path) -> None:
    array = (image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array).save(path, format="PNG")


def _stimulus_id(seed: int, *parts: str) -> str:
    """Opaque, reproducible stimulus ids: a participant's page does not reveal the condition."""
    return "s" + hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()[:12]


def _parse_attack(text: str | None, config: BenchConfig) -> tuple[str, str]:
    """``NAME[PRESET]`` or ``NAME`` (its last listed preset) of the config; default its first attack."""
    if not config.attacks:
        raise StudyError("the run's config has no attacks: a study compares defences on attacked images")
    name, preset = (text or config.attacks[0].name), None
    if name.endswith("]") and "[" in name:
        name, preset = name[:-1].split("[", 1)
    spec = next((a for a in config.attacks if a.name == name), None)
    if spec is None:
        raise StudyError(f"attack {name!r} is not in the run's config; choose from {[a.name for a in config.attacks]}")
    presets = [NONE if p is None else p for p in spec.presets]
    chosen = preset or presets[-1]
    if chosen not in presets:
        raise StudyError(f"attack {name!r} was run with presets {presets}, not {chosen!r}")
    return name, chosen


def _pick(config: BenchConfig, options: Sequence[str], given: str | None, what: str) -> str:
    if given is None:
        return options[0]
    if given not in options:
        raise StudyError(f"{what} {given!r} is not in the run's config; choose from {list(options)}")
    return given


def prepare_study(
    config_path: str | Path,
    out: str | Path,
    *,
    images: int = 4,
    dataset: str | None = None,
    metric: str | None = None,
    attack: str | None = None,
    mode: str = "non-adaptive",
    presets: str = "selected",
    trials_per_participant: int | None = None,
    checks_per_participant: int | None = None,
    qc: QCRule | None = None,
    seed: int = 0,
    device: str | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> Study:
    """Write a study (stimulus PNGs and ``study.json``) into the empty or new folder ``out``.

    Arguments mirror ``iqa-bench study prepare`` (see ``--help`` and docs/study.md).
    """
    from dataclasses import replace

    from .. import aggregate, stats
    from ..planning import Unit, preset_name
    from ..runner import Runner
    from ..store import ResultStore

    config = load_config(config_path)
    if device is not None:
        config = replace(config, device=device)
    folder = Path(out)
    if (folder / STUDY_FILE).exists() or (folder / VOTES_FILE).exists():
        raise StudyError(f"{folder} already holds a study; choose a new folder (votes are never overwritten)")
    if mode not in ("non-adaptive", "adaptive", "clean"):
        raise StudyError(f"mode must be non-adaptive, adaptive or clean, got {mode!r}")
    if presets not in ("selected", "all"):
        raise StudyError(f"presets must be 'selected' or 'all', got {presets!r}")
    if images < 1:
        raise StudyError(f"--images must be >= 1, got {images}")
    if not config.store_path.is_file():
        raise StudyError(f"the run has no result store at {config.store_path}: run `iqa-bench run {config_path}` first")
    if not config.defences:
        raise StudyError("the run's config has no defences: nothing to compare")

    with ResultStore(config.store_path) as store:
        rows = list(store.results())
        bounds = store.bounds()
        directions = {str(k): bool(v) for k, v in store.directions().items()}
        fingerprint = store.meta("config_fingerprint")
    runner = Runner(config, store=None, progress=False)  # type: ignore[arg-type]  # no store: nothing is written
    runner.load()
    config = runner.config
    ds = _pick(config, [d.name for d in config.datasets], dataset, "dataset")
    metric_name = _pick(config, [m.name for m in config.metrics], metric, "metric")
    clean = mode == "clean"
    attack_name, attack_preset = (NONE, NONE) if clean else _parse_attack(attack, config)
    if not clean and mode not in config.modes:
        raise StudyError(f"the run has no {mode} attacks (its modes: {', '.join(config.modes)}); choose another --mode")

    summaries = aggregate.summarise(rows, bounds, directions=directions)
    selected = stats.select_presets(summaries, "srocc_adv", mode=config.modes[0] if clean else mode)
    conditions: list[Condition] = []
    if not clean and "non-adaptive" in config.modes:
        conditions.append(Condition(NONE, NONE, NONE))
    for spec in config.defences:
        names = [preset_name(p) for p in spec.presets]
        chosen = names if presets == "all" else [selected.get(spec.name, names[0])]
        conditions += [Condition(condition_id(spec.name, p), spec.name, p) for p in chosen]
    board_presets = {spec.name: selected.get(spec.name, preset_name(spec.presets[0])) for spec in config.defences}

    stored = {
        (r["image"], r["defence"], r["defence_preset"]): r
        for r in rows
        if r["dataset"] == ds
        and r["metric"] == metric_name
        and r["attack"] == attack_name
        and r["attack_preset"] == attack_preset
        and (r["mode"] == mode or (r["mode"] == "non-adaptive" and (clean or r["defence"] == NONE)))
        and r["status"] == "done"
    }
    items = runner.items[ds]
    if mode != "adaptive":
        done = [k for k, item in enumerate(items) if (item.id, NONE, NONE) in stored]
    else:
        done = [k for k, item in enumerate(items) if any((item.id, c.defence, c.preset) in stored for c in conditions)]
    if not done:
        raise StudyError(
            f"the store has no finished {mode} rows of {metric_name} x "
            f"{condition_id(attack_name, attack_preset)} on {ds}: finish the run first (`iqa-bench run CONFIG`)"
        )
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    chosen_idx = sorted(rng.sample(done, min(images, len(done))))
    say(f"study of {len(chosen_idx)} images x {len(conditions)} conditions ({', '.join(c.id for c in conditions)})")

    stimuli_dir = folder / STIMULI_DIR
    stimuli_dir.mkdir(parents=True, exist_ok=True)
    stimuli: dict[str, str] = {}

    def emit(image: Tensor, *parts: str) -> str:
        sid = _stimulus_id(seed, *parts)
        save_png(image, stimuli_dir / f"{sid}.png")
        stimuli[sid] = f"{sid}.png"
        return sid

    metric_obj = runner._metric(metric_name)
    groups: list[Group] = []
    checks: list[Check] = []
    notes: list[str] = []
    mismatches = 0
    hits, writes = runner.cache.hits, runner.cache.writes
    by_chunk: dict[int, list[int]] = {}
    for k in chosen_idx:
        by_chunk.setdefault(k // config.chunk_size, []).append(k)
    attack_spec = None if clean else runner._spec(config.attacks, attack_name)
    for chunk, wanted in sorted(by_chunk.items()):
        wanted_ids = {items[k].id for k in wanted}
        base = (
            Unit("clean", ds, metric_name, chunk)
            if clean
            else Unit("non-adaptive", ds, metric_name, chunk, attack_name, attack_preset)
        )
        data = runner._load_chunk(base)
        if attack_spec is not None and attack_spec.images is not None:
            data = data.head(max(0, attack_spec.images - chunk * config.chunk_size))
        for batch_items, batch in data.groups():
            keep = [i for i, item in enumerate(batch_items) if item.id in wanted_ids]
            if not keep:
                continue
            versions: dict[str, Tensor] = {}
            if any(c.defence == NONE for c in conditions):
                versions[NONE] = runner.evaluator.adversarial(base, metric_obj, batch, batch_items, data.cache)[0]
            for c in conditions:
                if c.defence == NONE:
                    continue
                spec = runner._spec(config.defences, c.defence)
                defence = runner._component("defence", spec, runner._preset_arg(c.preset))
                if clean:
                    unit, adversarial = base, batch
                elif mode == "non-adaptive":
                    unit, adversarial = base, versions[NONE]
                else:
                    from iqa_core import defended

                    unit = Unit("adaptive", ds, metric_name, chunk, attack_name, attack_preset, c.defence, c.preset)
                    eot = config.eot_samples if getattr(defence, "randomized", False) else 1
                    generator = torch.Generator(device=runner.device).manual_seed(unit.seed(config.seed))
                    target = defended(metric_obj, defence, eot_samples=eot, generator=generator)
                    adversarial = runner.evaluator.adversarial(unit, target, batch, batch_items, data.cache)[0]
                versions[c.id] = runner.evaluator.purify(defence, adversarial, unit.seed(config.seed))[0]
            scores = {name: runner.scorer.score(metric_obj, images).tolist() for name, images in versions.items()}
            for i in keep:
                item = batch_items[i]
                gid = f"g{len(groups) + 1:03d}"
                reference = emit(batch[i].cpu(), item.id, "reference")
                group_versions: dict[str, str] = {}
                group_scores: dict[str, dict[str, float | None]] = {}
                for c in conditions:
                    if c.id not in versions:
                        continue
                    group_versions[c.id] = emit(versions[c.id][i].cpu(), item.id, c.id)
                    row = stored.get((item.id, c.defence, c.preset))
                    column = "score_attacked" if c.defence == NONE else "score_purified_attacked"
                    if clean:
                        column = "score_purified_clean"
                    want = None if row is None else row.get(column)
                    got = float(scores[c.id][i])
                    group_scores[c.id] = {"stored": want, "recomputed": got}
                    if want is not None and not math.isclose(got, want, rel_tol=SCORE_TOLERANCE, abs_tol=1e-6):
                        mismatches += 1
                groups.append(
                    Group(
                        gid,
                        ds,
                        item.id,
                        metric_name,
                        attack_name,
                        attack_preset,
                        mode,
                        reference,
                        group_versions,
                        group_scores,
                    )
                )
                kind = DEGRADATIONS[len(checks) % len(DEGRADATIONS)]
                bad = emit(degrade(batch[i].cpu(), kind, seed + len(checks)), item.id, "check", kind)
                checks.append(Check(f"c{len(checks) + 1:03d}", gid, reference, bad, kind))
    attacked_again = runner.cache.writes - writes
    if attacked_again:
        notes.append(f"{attacked_again} adversarial batches were not in the cache and were attacked again")
    if mismatches:
        notes.append(
            f"{mismatches} stimuli score differently from the store (relative tolerance {SCORE_TOLERANCE}): "
            "another device or changed components; the study shows recomputed images"
        )
    for note in notes:
        say("note: " + note)
    say(f"adversarial images: {runner.cache.hits - hits} batches from the cache, {attacked_again} attacked again")

    pairs = all_pairs(groups)
    if not pairs:
        raise StudyError("every group has fewer than two versions: add defences (or --presets all)")
    trials = min(trials_per_participant or 30, len(pairs))
    n_checks = checks_per_participant or max(3, math.ceil(trials / 5))
    study = Study(
        name=(
            f"{config.name}: defences on clean images of {ds}"
            if clean
            else f"{config.name}: {metric_name} x {attack_name}[{attack_preset}] on {ds} ({mode})"
        ),
        mode=mode,
        conditions=[c for c in conditions if any(c.id in g.versions for g in groups)],
        groups=groups,
        pairs=pairs,
        checks=checks,
        stimuli=stimuli,
        trials_per_participant=trials,
        checks_per_participant=n_checks,
        qc=qc or QCRule(),
        board_presets=board_presets,
        source={
            "config": str(Path(config_path).resolve()),
            "config_fingerprint": fingerprint,
            "store": str(config.store_path.resolve()),
            "device": str(runner.device),
            "score_mismatches": mismatches,
            "attacked_again": attacked_again,
            "notes": notes,
        },
        seed=seed,
    )
    save_study(study, folder)
    say(f"{len(pairs)} pairs, {len(checks)} checks, {len(stimuli)} images -> {folder}")
    return study
