"""Sessions: lint, tests (one per package, installed alone), integration, gpu.

Every environment is synced from the committed uv.lock (`uv sync --locked`), so what runs here
runs the same on CI and on a contributor's machine.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests", "integration"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
PACKAGES = sorted(tomllib.loads(p.read_text())["project"]["name"] for p in (ROOT / "packages").glob("*/pyproject.toml"))

# Let each environment cache bytecode: with PYTHONDONTWRITEBYTECODE set machine-wide, every
# `import torch` recompiles it in memory (about 15 s instead of about 5 s).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("IQA_OFFLINE", "1")


def sync(session: nox.Session, *args: str) -> None:
    """Install exactly what the lock says for ``args`` into the session's environment."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (check + format), mypy on every src/, import-linter contracts."""
    sync(session, "--all-packages", "--group", "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium(session: nox.Session) -> None:
    """The leaderboard page is tested in headless Chromium (Debian's package): install it when missing.

    Installing needs root and apt-get (as on CI and the development machines); elsewhere the
    session stops with the command to run.
    """
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        session.error(
            "headless Chromium is needed for the HTML leaderboard tests and is not installed: "
            "run `sudo apt-get install chromium` (Debian/Ubuntu) and retry"
        )
    session.log("installing Debian's chromium for the HTML leaderboard tests")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run(apt, "update", "-qq", external=True, env=env, silent=True)
    session.run(apt, "install", "-y", "-qq", "chromium", external=True, env=env, silent=True)


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package installed alone (with only its declared dependencies) and its own tests."""
    if package == "iqa-bench":
        ensure_chromium(session)
    sync(session, "--package", package, "--no-default-groups", "--group", "test")
    session.run("python", "tools/check_isolation.py", package)
    session.run("pytest", f"packages/{package}/tests", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """All packages together: cross-package scenarios in tests-integration/ (GPU ones excluded)."""
    sync(session, "--all-packages", "--group", "dev")
    session.run(
        "pytest",
        "tests-integration",
        "-q",
        "-m",
        "not gpu",
        "-p",
        "no:cacheprovider",
        "--ignore=tests-integration/test_install_scenarios.py",  # run by `nox -s build`
        *session.posargs,
    )


@nox.session(python=PYTHON)
def gpu(session: nox.Session) -> None:
    """Integration scenarios marked `gpu`, on CUDA (tests-integration/test_gpu.py).

    Without a CUDA device the session is skipped with the reason, unless ``IQA_REQUIRE_GPU=1``: then it
    fails, so that a GPU run that did not happen is never read as a pass. ``tools/gpu_check.sh`` runs
    the same tests plus the throughput profile and writes docs/performance-gpu.md.
    """
    sync(session, "--all-packages", "--group", "dev")
    probe = session.run("python", "-c", "import torch; print(torch.cuda.is_available())", silent=True)
    if "True" not in str(probe):
        reason = "no CUDA device is visible (torch.cuda.is_available() is False): GPU scenarios not run"
        if os.environ.get("IQA_REQUIRE_GPU") == "1":
            session.error(f"IQA_REQUIRE_GPU=1 and {reason}")
        session.skip(reason)
    session.run("pytest", "tests-integration", "-q", "-m", "gpu", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def perf(session: nox.Session) -> None:
    """Speed and memory ratios -> docs/performance.md and docs/performance.json; CLI start-up -> docs/perf-cli.json."""
    sync(session, "--all-packages", "--group", "dev")
    white_and_black_box = ",".join(
        [
            *("fgsm", "ifgsm", "mifgsm", "amifgsm", "apgd", "korhonen", "zhang-ssim", "madc", "ssah"),
            *("stadv", "advcf", "nes", "square", "parsimonious", "onepixel", "patch-rs"),
        ]
    )
    session.run(
        "iqa-attacks",
        "bench",
        "--metric",
        "demo-cnniqa",
        "--attacks",
        white_and_black_box,
        "--out",
        "docs/perf-attacks.json",
    )
    # the same ratios on a heavier metric (TOPIQ-NR, ResNet-50, random weights): attacks with a fixed
    # extra term per step (NIQE-like naturalness, SSIM, flow warp) pay relatively less for it there
    session.run(
        "iqa-attacks",
        "bench",
        "--metric",
        "topiq-nr",
        "--metric-option",
        "pretrained=false",
        "--metric-option",
        "backbone_pretrain=false",
        "--attacks",
        "ifgsm,mifgsm,amifgsm,apgd,zhang-ssim,stadv",
        "--batch",
        "4",
        "--repeats",
        "2",
        "--out",
        "docs/perf-attacks-topiq.json",
        env={"HF_HUB_OFFLINE": "1", "IQA_OFFLINE": "1"},
    )
    session.run("python", "packages/iqa-certify/benchmarks/bench_overhead.py", "--out", "docs/perf-certify.json")
    # start-up of every console script (--help, iqa-bench list [--presets]): best of 5 -> docs/perf-cli.json
    session.run("python", "tools/benchmarks/cli_startup.py", "--out", "docs/perf-cli.json")
    # last: it renders the JSONs above into docs/performance.md with its own figures
    session.run("python", "tools/benchmarks/perf.py", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """User docs: regenerate docs/components.md from the registry, then mkdocs build --strict (offline)."""
    sync(session, "--all-packages", "--group", "dev")
    session.run("python", "tools/release/gen_component_docs.py")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Release checks: sibling ranges satisfiable, every wheel built without workspace sources into
    dist/ and smoke-tested alone, iqa-bench[all] from dist/, a downstream project pinning iqa-purify."""
    sync(session, "--all-packages", "--group", "dev")
    session.run("python", "tools/release/check_versions.py")
    session.run("python", "tools/release/smoke_wheels.py", *session.posargs)
    session.run("pytest", "tests-integration/test_release_tools.py", "-q", "-p", "no:cacheprovider")


@nox.session(python=PYTHON)
def lowest(session: nox.Session) -> None:
    """Each package with its siblings at the lowest versions its ranges allow (wheels built from the
    commits that made those versions), then its own tests; slow, so not a default session.

    `nox -s lowest -- --packages iqa-metrics --third-party lowest-direct -- -k ssim`: arguments go
    to tools/lowest/lowest.py (see its docstring), those after a second `--` to pytest.
    """
    session.install("packaging")
    session.run("python", "tools/lowest/lowest.py", *session.posargs)
