"""Put budgets and lint together: :func:`check_env` → :class:`PlanReport`.

Exit code (:meth:`PlanReport.exit_code`): 1 when the worst-case RTO exceeds ``rto_target_seconds`` or
the worst-case RPO exceeds ``rpo_target_seconds``; 0 otherwise. Lint findings are *reported* and do
not change the exit code unless ``strict`` (``--strict``): several are judgement calls (e.g. an
orchestrator that may call ``route53:UpdateHealthCheck`` as an optional extra) and the budget is the
objective this command guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drharness.plancheck.budget import Term, rpo_terms, rto_terms
from drharness.plancheck.lint import Finding, lint
from drharness.plancheck.loader import load_env, rel_path

__all__ = ["PlanReport", "check_env"]


@dataclass
class PlanReport:
    env_dir: str
    rto_terms: list[Term]
    rto_target: Term
    rpo_terms: list[Term]
    rpo_target: Term
    lint: list[Finding]
    notes: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def rto_seconds(self) -> float:
        return float(sum(t.seconds for t in self.rto_terms))

    @property
    def rpo_seconds(self) -> float:
        return float(max((t.seconds for t in self.rpo_terms), default=0.0))

    @property
    def rto_ok(self) -> bool:
        return self.rto_seconds <= self.rto_target.seconds

    @property
    def rpo_ok(self) -> bool:
        return self.rpo_seconds <= self.rpo_target.seconds

    @property
    def unresolved(self) -> list[str]:
        return [f"{t.name}: {t.source}" for t in [*self.rto_terms, self.rto_target, *self.rpo_terms,
                                                   self.rpo_target] if t.assumed]

    def exit_code(self) -> int:
        if not (self.rto_ok and self.rpo_ok):
            return 1
        return 1 if self.strict and self.lint else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_dir": self.env_dir,
            "ok": self.exit_code() == 0,
            "rto": {"worst_case_seconds": self.rto_seconds, "target_seconds": self.rto_target.seconds,
                    "target_source": self.rto_target.source, "ok": self.rto_ok,
                    "terms": [t.to_dict() for t in self.rto_terms]},
            "rpo": {"worst_case_seconds": self.rpo_seconds, "target_seconds": self.rpo_target.seconds,
                    "target_source": self.rpo_target.source, "ok": self.rpo_ok,
                    "terms": [t.to_dict() for t in self.rpo_terms]},
            "lint": [f.to_dict() for f in self.lint],
            "unresolved": self.unresolved,
            "notes": self.notes,
            "lint_fails": self.strict,
        }


def check_env(env_dir: str | Path, *, strict: bool = False) -> PlanReport:
    """Parse ``env_dir`` (and its local modules); raise BadInput on a missing dir or unparsable HCL."""
    root = load_env(env_dir)
    rt, rtgt = rto_terms(root)
    pt, ptgt, pnotes = rpo_terms(root)
    notes = [n for s in root.walk() for n in s.notes] + pnotes
    return PlanReport(rel_path(Path(env_dir)), rt, rtgt, pt, ptgt, lint(root), notes, strict)
