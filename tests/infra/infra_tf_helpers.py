"""Shared helpers for the Terraform tests of infra/ (imported by tests/infra/test_*.py).

Two HCL parsers install as the same ``hcl2`` module: python-hcl2 (>= 7: labels and strings keep
their quotes, blocks carry ``__is_block__``) and bridgecrew's bc-python-hcl2 (pulled in by checkov:
every attribute value wrapped in a one-element list). ``load_tf`` normalises both to plain values.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MODULE = INFRA / "modules" / "multi-region"
ENVIRONMENTS = INFRA / "environments"
ENV_NAMES = ("prod-us-west-2", "staging", "lab")
PLUGIN_MIRROR = Path(os.environ.get("DRHARNESS_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
OFFLINE_CLI_CONFIG = INFRA / ".terraformrc.offline"

_META_KEYS = {"__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__"}


def tf_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)


def _hcl2():
    return pytest.importorskip("hcl2", reason="python-hcl2 is not installed (pip install python-hcl2)")


@functools.cache
def _wraps_attributes(hcl2_module) -> bool:
    """bc-python-hcl2 (checkov's fork) wraps every attribute value in a list."""
    sample = hcl2_module.loads('x = 1\n')
    return isinstance(sample.get("x"), list)


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(key): _norm(val) for key, val in value.items() if key not in _META_KEYS}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return _unquote(value)


def wraps_attributes() -> bool:
    return _wraps_attributes(_hcl2())


def load_tf(path: Path) -> dict[str, Any]:
    """The parsed file with quotes and parser metadata removed (attributes NOT unwrapped: use attr)."""
    hcl2 = _hcl2()
    with path.open() as fh:
        return _norm(hcl2.load(fh))


def attr(body: dict[str, Any], key: str, default: Any = None) -> Any:
    """An attribute's value, whichever parser produced ``body``."""
    if key not in body:
        return default
    value = body[key]
    if wraps_attributes() and isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def sub_blocks(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Nested blocks of one type (a list of bodies in both parsers)."""
    value = body.get(key, [])
    return value if isinstance(value, list) else [value]


def blocks(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """{label: body} for single-label blocks (variable, output, module, ...)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in doc.get(kind, []):
        for label, body in entry.items():
            found[label] = body
    return found


def module_variables() -> dict[str, dict[str, Any]]:
    return blocks(load_tf(MODULE / "variables.tf"), "variable")


def tfvars(path: Path) -> dict[str, Any]:
    doc = load_tf(path)
    return {key: attr(doc, key) for key in doc}


def strip_interp(value: Any) -> str:
    """'${number}' / 'number' -> 'number' (type expressions differ between the parsers)."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return text


# ---------------------------------------------------------------------------------------------
# Terraform
# ---------------------------------------------------------------------------------------------


def terraform_or_skip() -> str:
    exe = shutil.which("terraform")
    if exe is None:
        pytest.skip("terraform is not on PATH: Terraform checks not run (install Terraform >= 1.11)")
    return exe


def terraform_env() -> dict[str, str]:
    """Environment for terraform: offline provider mirror when present, never real credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    env.pop("TF_CLI_CONFIG_FILE", None)
    if PLUGIN_MIRROR.is_dir():
        env["TF_CLI_CONFIG_FILE"] = str(OFFLINE_CLI_CONFIG)
    return env


def providers_or_skip() -> None:
    if not PLUGIN_MIRROR.is_dir() and os.environ.get("DRHARNESS_TF_ONLINE") != "1":
        pytest.skip(
            f"no provider mirror at {PLUGIN_MIRROR} and DRHARNESS_TF_ONLINE != 1: "
            "the hashicorp/aws provider cannot be installed offline"
        )


def low_priority() -> None:
    """preexec_fn for the CPU-bound static tools (terraform, checkov): nice 10, so that on 2 cores they
    take what the other xdist worker's lab leaves instead of slowing its drills (measured: with them at
    the same priority the suite took 284-303 s, see benchmarks/RESULTS.md)."""
    os.nice(10)


def run_tf(args: list[str], cwd: Path, timeout: float = 300, extra_env: dict[str, str] | None = None):
    env = terraform_env()
    if extra_env:
        env.update(extra_env)
    return subprocess.run(
        ["terraform", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=low_priority,
    )
