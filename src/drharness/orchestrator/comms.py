"""Incident communication templates (internal and customer-facing): start, update, resolved.

The orchestrator publishes the internal template to SNS; docs/comms/ shows all of them.
"""

from __future__ import annotations

import time
from typing import Any

TEMPLATES = {
    "internal.start": (
        "[DR {kind}] STARTED {when}\n"
        "Run: {run_id}  Mode: {mode}  From: {src}  To: {dst}\n"
        "What: {text}\n"
        "Next update: when the next step completes. Runbook: docs/DR_RUNBOOK.md"
    ),
    "internal.update": (
        "[DR {kind}] UPDATE {when}\nRun: {run_id}  {src} -> {dst}\n{text}\nSteps so far: {steps}"
    ),
    "internal.resolved": (
        "[DR {kind}] RESOLVED {when}\nRun: {run_id}  {src} -> {dst}\n{text}\nSteps: {steps}\n"
        "Follow-up: failback per docs/FAILBACK_PROCEDURES.md; post-incident review within 5 business days."
    ),
    "customer.start": (
        "We are investigating degraded service in one of our regions. Traffic is being moved to a "
        "healthy region. Some requests may fail for a few minutes. Next update within 30 minutes."
    ),
    "customer.update": (
        "Service is being restored from our secondary region. Most requests are succeeding. "
        "Next update within 30 minutes."
    ),
    "customer.resolved": (
        "Service is fully restored. Between {start} and {end} (UTC) some requests may have failed. "
        "No action is needed on your side."
    ),
}


def render_template(name: str, **fields: Any) -> str:
    return TEMPLATES[name].format(**fields)


def render(kind: str, text: str, orch: Any) -> str:
    stage = "resolved" if "complete" in text else ("start" if not orch.steps or
                                                    all(s.status == "pending" for s in orch.steps.values())
                                                    else "update")
    steps = ", ".join(f"{s.name}={s.status}" for s in orch.steps.values())
    return render_template(f"internal.{stage}", kind=kind, when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           run_id=orch.run_id, mode=orch.cfg.mode, src=orch.src, dst=orch.dst, text=text,
                           steps=steps)
