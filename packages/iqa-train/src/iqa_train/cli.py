"""``iqa-train`` command line.

    iqa-train adv CONFIG [--fresh] [--device DEV] [--epochs N] [--no-progress]
    iqa-train nt  CONFIG [...]
    iqa-train fcn CONFIG [...]

Runs resume from ``out_dir/checkpoint.pt`` when it exists (``--fresh`` starts over). The YAML
schema is in :mod:`iqa_train.config` and the README. Exit status 0 on success, 2 for invalid
configurations or missing components (the message says what to fix).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from iqa_core.errors import UserError, run_cli

if TYPE_CHECKING:  # the training modules import torch: loaded by the handlers, not by ``--help``
    from .config import RunConfig
    from .trainer import TrainResult, TrainSettings

# the sub-commands (``iqa_train.config.COMMANDS``; a test keeps the two equal)
COMMANDS = ("adv", "nt", "fcn")


def _settings(config: RunConfig) -> TrainSettings:
    from .trainer import TrainSettings

    return TrainSettings(**config.train)


def run_iqa(config: RunConfig, *, resume: bool = True) -> TrainResult:
    """Fine-tune the configured metric with adversarial training or NT."""
    from .api import train_adversarial, train_nt
    from .components import create
    from .config import ConfigError
    from .datasets import read_dataset, split_dataset

    assert config.metric is not None
    data = config.data
    items = read_dataset(data["layout"], data["root"], **data["options"])
    train_items, val_items = split_dataset(
        items, data["split_dir"], val_fraction=data["val_fraction"], seed=config.train["seed"]
    )
    model = create("metric", config.metric, f"iqa-train {config.command}")
    if not hasattr(model, "parameters") or not hasattr(model, "state_dict"):
        raise ConfigError(f"metric {config.metric.name!r} is not a torch.nn.Module: it cannot be fine-tuned")
    common: dict[str, Any] = {
        "settings": _settings(config),
        "loss": config.loss,
        "patch_size": data["patch_size"],
        "val_patch_size": data["val_patch_size"],
        "export_submodule": config.export_submodule,
        "resume": resume,
        "cache": data["cache"],
    }
    if config.command == "adv":
        m = config.method
        return train_adversarial(
            model,
            train_items,
            val_items,
            config.out_dir,
            attack=m["attack"],
            eps=m["eps"],
            measure=m["measure"],
            mos_span=m["mos_span"],
            eval_attack=config.eval_attack,
            **common,
        )
    m = config.method
    return train_nt(
        model,
        train_items,
        val_items,
        config.out_dir,
        lam=m["lambda"],
        h=m["h"],
        mode=m["mode"],
        eval_attack=config.eval_attack,
        **common,
    )


def run_fcn(config: RunConfig, *, resume: bool = True) -> TrainResult:
    """Train the FCN filter on the configured pairs (making the attacked images first when asked)."""
    from iqa_core import resolve_device

    from .components import create
    from .fcn import generate_attacked, read_pairs, train_fcn

    m = config.method
    settings = _settings(config)
    if "attacked" in m:
        pairs = read_pairs(m["clean"], m["attacked"])
    else:
        device = resolve_device(None if settings.device == "auto" else settings.device)
        metric = create("metric", m["generate"]["metric"], "making attacked images for the FCN filter")
        attack = create("attack", m["generate"]["attack"], "making attacked images for the FCN filter")
        pairs = generate_attacked(
            m["clean"],
            config.out_dir / "attacked",
            metric,
            attack,
            seed=settings.seed,
            device=device,
            progress=settings.progress,
        )
    return train_fcn(
        pairs,
        config.out_dir,
        settings=settings,
        hidden=m["hidden"],
        patch_size=m["patch_size"],
        val_fraction=m["val_fraction"],
        resume=resume,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iqa-train", description="Adversarial training, NT regularisation and FCN-filter training."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {
        "adv": "adversarial fine-tuning of a metric (benchmark A.3.5)",
        "nt": "NT gradient-norm regularisation (Liu et al. 2024)",
        "fcn": "train the FCN purification filter (Gushchin et al. 2024)",
    }
    for command in COMMANDS:
        p = sub.add_parser(command, help=helps[command])
        p.add_argument("config", help="YAML configuration file")
        p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
        p.add_argument("--device", help="override train.device (cpu, cuda, cuda:1, auto)")
        p.add_argument("--epochs", type=int, help="override train.epochs")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _run(args: argparse.Namespace) -> int:
    from .components import MissingComponentError
    from .config import ConfigError
    from .datasets import DatasetLayoutError

    try:
        return _train(args)
    except (ConfigError, MissingComponentError, DatasetLayoutError) as error:
        raise UserError(str(error)) from error


def _train(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config

    config = load_config(args.config, args.command)
    if args.device:
        config.train["device"] = args.device
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {args.epochs}")
        config.train["epochs"] = args.epochs
    if args.no_progress:
        config.train["progress"] = False
    run = run_fcn if args.command == "fcn" else run_iqa
    result = run(config, resume=not args.fresh)
    last = result.log[-1] if result.log else {}
    summary = {
        "out_dir": str(config.out_dir),
        "epochs": len(result.log),
        "resumed_from_epoch": result.resumed_from,
        "best": str(result.best) if result.best else None,
        "best_value": result.best_value,
        "last_epoch": last,
    }
    print(json.dumps(summary, indent=2, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line (exit 2), ``--debug`` shows the traceback."""
    parser = build_parser()
    parser.set_defaults(handler=_run)
    return run_cli(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
