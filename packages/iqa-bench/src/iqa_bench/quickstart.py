"""``iqa-bench quickstart``: the smallest end-to-end run of the benchmark, offline.

Scores the demo metric on the demo dataset, attacks it with I-FGSM (non-adaptive: the bare
metric; adaptive: ``defended(metric, JPEG)`` through BPDA), purifies with JPEG and reports D,
D^(D), R, R^(D) and SROCC_clear/adv. Every component comes from the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from iqa_core import Scorer, create, defended
from iqa_core.errors import UserError

from . import scores
from .demo import demo_dataset, stack_images
from .progress import StepProgress


@dataclass
class QuickstartRow:
    """One line of the quickstart table (scores as defined in :mod:`iqa_bench.scores`)."""

    setting: str
    mean_clean: float
    mean_attacked: float
    mean_purified_attacked: float
    d: float
    d_defended: float
    r: float
    r_defended: float
    srocc_clear: float
    srocc_adv: float


@dataclass
class QuickstartResult:
    metric: str
    attack: str
    defence: str
    n_images: int
    rows: list[QuickstartRow]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(
    setting: str,
    mos: Tensor,
    clean: Tensor,
    attacked: Tensor,
    pc: Tensor,
    pa: Tensor,
    diam: float,
    higher_is_better: bool = True,
) -> QuickstartRow:
    beta = scores.beta_of(clean)
    return QuickstartRow(
        setting=setting,
        mean_clean=float(clean.mean()),
        mean_attacked=float(attacked.mean()),
        mean_purified_attacked=float(pa.mean()),
        d=scores.d_score(clean, pa, diam),
        d_defended=scores.d_score_defended(pc, pa, diam),
        r=scores.r_score(clean, pa, beta=beta, diam=diam),
        r_defended=scores.r_score_defended(pc, pa, beta=beta, diam=diam),
        srocc_clear=scores.srocc(mos, pc, higher_is_better=higher_is_better),
        srocc_adv=scores.srocc(mos, pa, higher_is_better=higher_is_better),
    )


def run_quickstart(
    *,
    metric: str = "demo-cnniqa",
    attack: str = "ifgsm",
    attack_preset: str | None = "strong",
    defence: str = "jpeg",
    defence_preset: str | None = None,
    eot_samples: int = 1,
    device: str = "auto",
    batch_size: int = 16,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> QuickstartResult:
    """Run the quickstart and return its table (see the module docstring)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 2):
        raise UserError(f"--limit must be an integer >= 2 (correlations need two images), got {limit!r}")
    if eot_samples < 1:
        raise UserError(f"--eot-samples must be >= 1, got {eot_samples}")
    if batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {batch_size}")
    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}

    def timed(step: str, total: int, fn: Callable[[Scorer], Any]) -> Any:
        start = time.perf_counter()
        with StepProgress(step, total, enabled=progress) as bar:
            scorer = Scorer(device, batch_size, progress=bar.callback)
            out = fn(scorer)
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start
        return out

    start = time.perf_counter()
    records = demo_dataset()
    if limit is not None:
        records = records[:limit]
    images = stack_images(records)
    mos = torch.tensor([r.mos for r in records])
    timings["dataset"] = time.perf_counter() - start
    n = images.shape[0]

    the_metric = create("metric", metric)
    the_attack = create("attack", attack, preset=attack_preset)
    the_defence = create("defence", defence, preset=defence_preset)
    diam = the_metric.bounds.diam
    say(
        f"{n} demo images, metric {metric}, attack {attack}[{attack_preset}], "
        f"defence {defence}[{defence_preset or 'default'}]"
    )

    def attack_with(target: Any) -> Callable[[Scorer], Tensor]:
        def run(scorer: Scorer) -> Tensor:
            scorer.prepare(target)
            generator = torch.Generator(device=scorer.device).manual_seed(seed)
            return scorer.apply(lambda batch: the_attack(target, batch, generator=generator), images, grad=True)  # type: ignore[return-value]

        return run

    clean = timed("score clean", n, lambda s: s.score(the_metric, images))
    adversarial = timed("attack (non-adaptive)", n, attack_with(the_metric))
    attacked = timed("score attacked", n, lambda s: s.score(the_metric, adversarial))
    generator = torch.Generator().manual_seed(seed)
    purified_clean_images = timed("purify clean", n, lambda s: s.apply(the_defence, images, generator=generator))
    purified_adv_images = timed("purify attacked", n, lambda s: s.apply(the_defence, adversarial, generator=generator))
    purified_clean = timed("score purified", n, lambda s: s.score(the_metric, purified_clean_images))
    purified_attacked = timed("score purified", n, lambda s: s.score(the_metric, purified_adv_images))

    target = defended(the_metric, the_defence, eot_samples=eot_samples, generator=torch.Generator().manual_seed(seed))
    adaptive = timed("attack (adaptive)", n, attack_with(target))
    adaptive_purified = timed("purify attacked", n, lambda s: s.apply(the_defence, adaptive, generator=generator))
    adaptive_raw = timed("score attacked", n, lambda s: s.score(the_metric, adaptive))
    adaptive_attacked = timed("score purified", n, lambda s: s.score(the_metric, adaptive_purified))

    hib = bool(the_metric.higher_is_better)
    rows = [
        _row("no defence", mos, clean, attacked, clean, attacked, diam, hib),
        _row(f"{defence}, non-adaptive", mos, clean, attacked, purified_clean, purified_attacked, diam, hib),
        _row(f"{defence}, adaptive (BPDA/EOT)", mos, clean, adaptive_raw, purified_clean, adaptive_attacked, diam, hib),
    ]
    timings["total"] = time.perf_counter() - start
    return QuickstartResult(
        metric, f"{attack}[{attack_preset}]", f"{defence}[{defence_preset or 'default'}]", n, rows, timings
    )


def format_table(result: QuickstartResult) -> str:
    """A fixed-width text table of the quickstart result."""
    header = ("setting", "f(x)", "f(x')", "f(P(x'))", "D", "D^(D)", "R", "R^(D)", "SROCC_clear", "SROCC_adv")
    lines = [
        f"metric {result.metric} | attack {result.attack} | defence {result.defence} | {result.n_images} images",
        "",
        f"{header[0]:<30}" + "".join(f"{h:>12}" for h in header[1:]),
    ]
    for row in result.rows:
        values = (
            row.mean_clean,
            row.mean_attacked,
            row.mean_purified_attacked,
            row.d,
            row.d_defended,
            row.r,
            row.r_defended,
            row.srocc_clear,
            row.srocc_adv,
        )
        lines.append(f"{row.setting:<30}" + "".join(f"{v:>12.3f}" for v in values))
    lines += [
        "",
        "f(.) = mean score; D, D^(D): lower = better defence; R, R^(D): higher = more robust;",
        "no-defence row: P = identity. Scores defined in docs (Guardians of Image Quality, sec. 3.5).",
    ]
    return "\n".join(lines)
