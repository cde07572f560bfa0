"""Load a Terraform environment directory and resolve variable values without running Terraform.

Follows local ``module`` sources (``./`` or ``../``), reads ``terraform.tfvars`` and ``*.auto.tfvars``
(and their ``.json`` forms) of the environment, module-call arguments that are literals or plain
``var.X`` references, and variable defaults. Anything else is *unresolved*: callers then assume a
documented worst case and say so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from drharness.errors import BadInput

__all__ = ["Resolution", "Scope", "TfFile", "load_env", "unquote"]

_VAR_REF = re.compile(r"^\$\{var\.([A-Za-z_][A-Za-z0-9_-]*)\}$")
_MAX_DEPTH = 8


def unquote(v: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and of block labels; drop them."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def is_literal(v: Any) -> bool:
    if isinstance(v, bool | int | float) or v is None:
        return True
    if isinstance(v, str):
        return v.startswith('"') and v.endswith('"') and "${" not in v
    if isinstance(v, list):
        return all(is_literal(x) for x in v)
    if isinstance(v, dict):
        return all(is_literal(x) for k, x in v.items() if not k.startswith("__"))
    return False


def literal(v: Any) -> Any:
    if isinstance(v, list):
        return [literal(x) for x in v]
    if isinstance(v, dict):
        return {unquote(k): literal(x) for k, x in v.items() if not k.startswith("__")}
    return unquote(v)


def rel_path(p: Path) -> str:
    """Path relative to the working directory when under it, else absolute."""
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p.resolve())


def line_of(text: str, pattern: str, start: int = 1) -> int:
    """1-based line of the first match of ``pattern`` at or after line ``start`` (0 if none)."""
    rx = re.compile(pattern)
    for i, ln in enumerate(text.splitlines()[start - 1:], start):
        if rx.search(ln):
            return i
    return 0


@dataclass
class TfFile:
    path: Path
    text: str
    doc: dict[str, Any]

    def blocks(self, kind: str) -> list[tuple[list[str], dict[str, Any]]]:
        """Top-level blocks of ``kind`` as (labels, body); e.g. resource → (["aws_x", "name"], body)."""
        out: list[tuple[list[str], dict[str, Any]]] = []
        for item in self.doc.get(kind, []) or []:
            if kind == "locals":
                out.append(([], item))
                continue
            for l1, b1 in item.items():
                if kind in ("resource", "data") and isinstance(b1, dict) and not b1.get("__is_block__"):
                    for l2, b2 in b1.items():
                        out.append(([unquote(l1), unquote(l2)], b2))
                else:
                    out.append(([unquote(l1)], b1))
        return out

    def header_line(self, kind: str, labels: list[str]) -> int:
        pat = r"^\s*" + kind + "".join(r'\s+"?' + re.escape(lb) + '"?' for lb in labels) + r"\s*\{"
        return line_of(self.text, pat)


@dataclass
class Resolution:
    name: str
    value: Any = None
    resolved: bool = False
    source: str = ""  # where the value came from, or why it could not be resolved


@dataclass
class Scope:
    """One module instance: the environment root or a followed ``module`` call."""

    dir: Path
    address: str  # "root" or "module.a.module.b"
    files: list[TfFile]
    root_dir: Path
    parent: Scope | None = None
    call_args: dict[str, Any] = field(default_factory=dict)
    call_file: TfFile | None = None
    call_line: int = 0
    providers_map: dict[str, str] = field(default_factory=dict)  # child alias -> parent alias
    tfvars: dict[str, tuple[Any, str]] = field(default_factory=dict)  # root only: name -> (value, "file:line")
    children: list[Scope] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rel(self, p: Path) -> str:
        return rel_path(p)

    # ---- variables ------------------------------------------------------------------------------
    def variable(self, name: str) -> tuple[TfFile, dict[str, Any]] | None:
        for f in self.files:
            for labels, body in f.blocks("variable"):
                if labels and labels[0] == name:
                    return f, body
        return None

    def declares(self, name: str) -> bool:
        return self.variable(name) is not None

    def resolve(self, name: str) -> Resolution:
        decl = self.variable(name)
        if self.parent is None and name in self.tfvars:
            val, where = self.tfvars[name]
            return Resolution(name, val, True, f"var.{name} = {val!r} ({where})")
        if self.parent is not None and name in self.call_args:
            raw = self.call_args[name]
            where = self.address
            if self.call_file:
                ln = line_of(self.call_file.text, r"^\s*" + re.escape(name) + r"\s*=", self.call_line) or self.call_line
                where = f"{self.rel(self.call_file.path)}:{ln}"
            r = self.parent.evaluate(raw, name)
            if r.resolved:
                return Resolution(name, r.value, True, f"{self.address} input {name} ({where}) <- {r.source}")
            return Resolution(name, None, False, f"{self.address} input {name} ({where}): {r.source}")
        if decl is not None:
            f, body = decl
            ln = f.header_line("variable", [name])
            if "default" in body and body["default"] is not None:
                if is_literal(body["default"]):
                    val = literal(body["default"])
                    return Resolution(name, val, True, f"var.{name} default = {val!r} ({self.rel(f.path)}:{ln})")
                return Resolution(name, None, False, f"var.{name} default is not a literal ({self.rel(f.path)}:{ln})")
            return Resolution(name, None, False, f"var.{name} ({self.rel(f.path)}:{ln}) has no value in the "
                                                 "tfvars and no default (-var / TF_VAR_ not visible statically)")
        return Resolution(name, None, False, f"var.{name} is not declared in {self.address}")

    def evaluate(self, raw: Any, what: str = "") -> Resolution:
        """Value of an HCL expression as python-hcl2 returns it: literals and ``var.X`` only."""
        if is_literal(raw):
            return Resolution(what, literal(raw), True, f"literal {literal(raw)!r}")
        if isinstance(raw, str):
            m = _VAR_REF.match(raw)
            if m:
                return self.resolve(m.group(1))
            expr = raw[2:-1] if raw.startswith("${") and raw.endswith("}") else raw
            return Resolution(what, None, False, f"expression `{expr}` is not a literal")
        return Resolution(what, None, False, f"expression {raw!r} is not a literal")

    # ---- providers -----------------------------------------------------------------------------
    def provider_region(self, key: str) -> Resolution:
        """Region of provider ``key`` ("aws" or "aws.alias") as seen in this scope."""
        if self.parent is not None:
            if key in self.providers_map:
                return self.parent.provider_region(self.providers_map[key])
            if key == "aws":
                return self.parent.provider_region("aws")
        for f in self.files:
            for labels, body in f.blocks("provider"):
                if not labels or labels[0] != "aws":
                    continue
                alias = unquote(body.get("alias")) if body.get("alias") else None
                if (f"aws.{alias}" if alias else "aws") == key:
                    if "region" not in body:
                        return Resolution("region", None, False, f"provider {key} has no region")
                    return self.evaluate(body["region"], "region")
        return Resolution("region", None, False, f"provider {key} not found")

    def walk(self) -> list[Scope]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


def _parse_tf(path: Path) -> TfFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    try:
        doc = hcl2.loads(text)
    except Exception as exc:  # python-hcl2 raises lark errors of several kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"cannot parse {path} as HCL: {first}") from None
    return TfFile(path, text, doc)


def _load_dir(d: Path) -> list[TfFile]:
    return [_parse_tf(p) for p in sorted(d.glob("*.tf"))]


def _load_tfvars(env: Path) -> dict[str, tuple[Any, str]]:
    """terraform.tfvars, terraform.tfvars.json, then *.auto.tfvars[.json] in name order (later wins)."""
    files = [p for p in (env / "terraform.tfvars", env / "terraform.tfvars.json") if p.is_file()]
    files += sorted(p for p in env.iterdir() if p.is_file() and (p.name.endswith(".auto.tfvars")
                                                                 or p.name.endswith(".auto.tfvars.json")))
    out: dict[str, tuple[Any, str]] = {}
    for p in files:
        try:
            text = p.read_text(encoding="utf-8")
            doc = json.loads(text) if p.name.endswith(".json") else hcl2.loads(text)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BadInput(f"cannot parse {p}: {first}") from None
        for k, v in doc.items():
            if k.startswith("__"):
                continue
            ln = line_of(text, r'^\s*"?' + re.escape(k) + r'"?\s*[=:]')
            out[k] = (literal(v) if is_literal(v) or p.name.endswith(".json") else v, f"{p.name}:{ln}")
    return out


def _follow_modules(scope: Scope, depth: int) -> None:
    for f in scope.files:
        for labels, body in f.blocks("module"):
            name = labels[0]
            src = unquote(body.get("source", ""))
            address = f"module.{name}" if scope.parent is None else f"{scope.address}.module.{name}"
            ln = f.header_line("module", [name])
            if not isinstance(src, str) or not (src.startswith("./") or src.startswith("../")):
                scope.notes.append(f"{address} ({scope.rel(f.path)}:{ln}): source {src!r} is not a local "
                                   "path; not followed")
                continue
            d = (scope.dir / src).resolve()
            if not d.is_dir():
                raise BadInput(f"{scope.rel(f.path)}:{ln}: module {name!r} source {src!r} is not a directory "
                               f"({d})")
            if depth >= _MAX_DEPTH:
                scope.notes.append(f"{address}: nesting deeper than {_MAX_DEPTH}; not followed")
                continue
            pmap: dict[str, str] = {}
            for k, v in (body.get("providers") or {}).items():
                pmap[str(k).strip("${}")] = str(v).strip("${}")
            args = {k: v for k, v in body.items()
                    if k not in ("source", "version", "providers", "count", "for_each", "depends_on")
                    and not k.startswith("__")}
            child = Scope(d, address, _load_dir(d), scope.root_dir, parent=scope, call_args=args, call_file=f,
                          call_line=ln, providers_map=pmap)
            scope.children.append(child)
            _follow_modules(child, depth + 1)


def load_env(env_dir: str | Path) -> Scope:
    env = Path(env_dir)
    if not env.exists():
        raise BadInput(f"environment directory {env} does not exist")
    if not env.is_dir():
        raise BadInput(f"{env} is not a directory (give a Terraform environment directory)")
    files = _load_dir(env)
    if not files:
        raise BadInput(f"{env} holds no *.tf files: not a Terraform environment directory")
    root = Scope(env.resolve(), "root", files, env.resolve(), tfvars=_load_tfvars(env))
    _follow_modules(root, 0)
    return root
