"""Column schema of the result store: one row per evaluated item.

A *result row* is one (dataset, image, metric, attack, attack preset, defence, defence preset,
mode) combination. ``attack = "none"`` rows hold the clean evaluation of a defence (no attack);
``defence = "none"`` rows hold the undefended metric under attack. Scores:

* ``score_clean``            f(x)
* ``score_attacked``         f(x')         (x' = attack output; for adaptive mode the attack
                                            targeted ``defended(metric, defence)``)
* ``score_purified_clean``   f(P(x))
* ``score_purified_attacked`` f(P(x'))
* ``psnr``, ``ssim``, ``mse``, ``linf``: P(x') against x.
* ``lpips``, ``dists``: P(x') against x, only when the config lists them under ``measures``
  (learned perceptual measures with downloaded weights; NULL otherwise).

``status`` is ``"done"`` or ``"failed"`` (then ``error`` holds the message and scores may be NULL).
"""

from __future__ import annotations

RESULT_KEY: tuple[str, ...] = (
    "dataset",
    "image",
    "metric",
    "attack",
    "attack_preset",
    "defence",
    "defence_preset",
    "mode",
)
"""Columns that identify a result row (its primary key)."""

RESULT_VALUES: tuple[tuple[str, str], ...] = (
    ("mos", "REAL"),
    ("score_clean", "REAL"),
    ("score_attacked", "REAL"),
    ("score_purified_clean", "REAL"),
    ("score_purified_attacked", "REAL"),
    ("psnr", "REAL"),
    ("ssim", "REAL"),
    ("mse", "REAL"),
    ("linf", "REAL"),
    ("seconds_attack", "REAL"),
    ("seconds_defence", "REAL"),
    ("seconds_metric", "REAL"),
    ("status", "TEXT"),
    ("error", "TEXT"),
    ("queries", "REAL"),
    ("lpips", "REAL"),
    ("dists", "REAL"),
)
"""Value columns of a result row, with their SQLite types (``queries``: the metric queries a black-box
attack spent on the image; NULL for white-box attacks and unattacked rows; ``lpips`` / ``dists``:
NULL unless the config's ``measures`` asks for them)."""

PERCEPTUAL_MEASURES: tuple[str, ...] = ("lpips", "dists")
"""Learned full-reference measures a config may add to every attacked row (``measures:``): each has
its result column. They need pretrained weights, so they are opt-in (PSNR, SSIM, MSE and L-inf are
always measured)."""

RESULT_COLUMNS: tuple[str, ...] = RESULT_KEY + tuple(name for name, _ in RESULT_VALUES)

MODES: tuple[str, ...] = ("non-adaptive", "adaptive")
NONE = "none"
"""Name used for "no attack" / "no defence" and for an absent preset."""

METRIC_COLUMNS: tuple[str, ...] = ("metric", "lower", "upper", "higher_is_better")
"""Table ``metrics``: the bounds used to normalise each metric's scores (diam = upper - lower)."""

CERTIFICATE_KEY: tuple[str, ...] = ("dataset", "image", "metric", "certifier", "certifier_preset")
CERTIFICATE_VALUES: tuple[tuple[str, str], ...] = (
    ("mos", "REAL"),
    ("abstained", "INTEGER"),
    ("prediction", "INTEGER"),
    ("radius", "REAL"),
    ("score", "REAL"),
    ("lower", "REAL"),
    ("upper", "REAL"),
    ("delta", "REAL"),
    ("relative_delta", "REAL"),
    ("seconds", "REAL"),
    ("status", "TEXT"),
    ("error", "TEXT"),
)
CERTIFICATE_COLUMNS: tuple[str, ...] = CERTIFICATE_KEY + tuple(name for name, _ in CERTIFICATE_VALUES)
