"""Documentation drift: the runbooks, budgets, comms templates and CLI commands in docs/ must match the code.

- DR_RUNBOOK.md / FAILBACK_PROCEDURES.md: the headings ``### <n>. <step>`` are FAILOVER_STEPS /
  FAILBACK_STEPS in order, and each step's ``Budget: <n> s`` line equals BUDGETS[step].
- docs/comms/: one file per TEMPLATES key whose first ```text block is the template, verbatim.
- Every ``drharness <cmd> [<sub>] [--flag ...]`` in a code span or block exists in the CLI parser.
- Scenarios, experiments, relative links and a few documented defaults exist / match.

The checks are plain functions returning a list of problems, so the planted tests at the bottom can
feed them deliberately broken text and show that each check can fail.
"""

from __future__ import annotations

import argparse
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from drharness.cli import build_parser
from drharness.orchestrator import FAILBACK_STEPS, FAILOVER_STEPS, OrchestratorConfig
from drharness.orchestrator.comms import TEMPLATES
from drharness.orchestrator.core import BUDGETS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUNBOOK = DOCS / "DR_RUNBOOK.md"
FAILBACK = DOCS / "FAILBACK_PROCEDURES.md"
COMMS = DOCS / "comms"
# Pages written with this test (others own COST.md and LOAD_TESTING.md: they are only scanned for
# CLI mentions, not for links).
OWNED = [DOCS / "DISASTER_RECOVERY_PLAN.md", RUNBOOK, FAILBACK, DOCS / "MULTI_REGION_TESTING_GUIDE.md",
         DOCS / "playbooks" / "failover.md", DOCS / "playbooks" / "failback.md", *sorted(COMMS.glob("*.md"))]

STEP_RE = re.compile(r"^### (\d+)\. (\S+)[ \t]*$", re.M)
BUDGET_RE = re.compile(r"^Budget: (\d+) s[ \t]*$", re.M)
HEADING_RE = re.compile(r"^(#{1,6}) (.+?)[ \t]*$", re.M)
FENCE_RE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
INLINE_RE = re.compile(r"`([^`\n]+)`")
CMD_RE = re.compile(r"\bdrharness[ \t]+(\S.*)$")
WORD_RE = re.compile(r"^[a-z][a-z0-9-]*$")
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
STOP_TOKENS = {"|", "||", "&&", ";", ">", "2>&1"}


# ---- runbook steps and budgets -------------------------------------------------------------------
def parse_steps(text: str) -> list[tuple[int, str]]:
    """The ``### <n>. <name>`` headings of a runbook, in document order."""
    return [(int(n), name) for n, name in STEP_RE.findall(text)]


def step_sections(text: str) -> dict[str, str]:
    """Body of each step heading: up to the next heading of level 1-3."""
    out: dict[str, str] = {}
    starts = list(STEP_RE.finditer(text))
    for m in starts:
        nxt = re.compile(r"^#{1,3} ", re.M).search(text, m.end())
        out[m.group(2)] = text[m.end(): nxt.start() if nxt else len(text)]
    return out


def plan_problems(text: str, steps: Sequence[str], budgets: Mapping[str, float]) -> list[str]:
    """Everything in which a runbook's numbered steps differ from a plan and its budgets."""
    problems: list[str] = []
    found = parse_steps(text)
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        problems.append(f"steps are not numbered 1..{len(found)}: {numbers}")
    names = [name for _, name in found]
    if names != list(steps):
        problems.append(f"steps {names} differ from the code's {list(steps)} "
                        f"(missing {sorted(set(steps) - set(names))}, extra {sorted(set(names) - set(steps))})")
    sections = step_sections(text)
    for name, body in sections.items():
        got = [int(b) for b in BUDGET_RE.findall(body)]
        if len(got) != 1:
            problems.append(f"step {name}: expected exactly one 'Budget: <n> s' line, found {len(got)}")
        elif name in budgets and got[0] != budgets[name]:
            problems.append(f"step {name}: documented budget {got[0]} s, code says {budgets[name]} s")
    in_steps = sum(len(BUDGET_RE.findall(b)) for b in sections.values())
    if len(BUDGET_RE.findall(text)) != in_steps:
        problems.append("a 'Budget: <n> s' line stands outside the step sections")
    return problems


# ---- CLI mentions --------------------------------------------------------------------------------
def code_snippets(text: str) -> list[str]:
    """Lines of fenced blocks and inline code spans (prose is not scanned)."""
    snippets: list[str] = []
    for m in FENCE_RE.finditer(text):
        snippets += m.group(2).splitlines()
    snippets += INLINE_RE.findall(FENCE_RE.sub("", text))
    return snippets


def _clean(token: str) -> str:
    return token.strip("[]()\"'`,")


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parsers: Iterable[argparse.ArgumentParser]) -> set[str]:
    return {s for p in parsers for a in p._actions for s in a.option_strings}


def command_problems(line: str, parser: argparse.ArgumentParser) -> list[str]:
    """Problems of every ``drharness ...`` invocation in one code line against the real parser."""
    problems: list[str] = []
    for m in CMD_RE.finditer(line):
        tokens: list[str] = []
        for raw in m.group(1).split():
            if raw in STOP_TOKENS or raw.startswith("#"):
                break
            tokens.append(_clean(raw))
            if ")" in raw:
                break
        level = [parser]
        path = ["drharness"]
        words_done = False
        for tok in tokens:
            if not tok:
                continue
            if tok.startswith("-"):
                flag = tok.split("=", 1)[0]
                if flag not in _options(level) | {"-h", "--help"}:
                    problems.append(f"`{line.strip()}`: {' '.join(path)} has no option {flag}")
                continue
            if words_done:
                continue  # an option's value or a positional placeholder
            subs = {}
            for p in level:
                subs.update(_subparsers(p))
            if not subs:
                words_done = True
                continue
            names = tok.split("|")
            if not all(WORD_RE.match(n) for n in names):
                break  # a placeholder such as <cmd> or ...: nothing more to check
            unknown = [n for n in names if n not in subs]
            if unknown:
                problems.append(f"`{line.strip()}`: {' '.join(path)} has no sub-command "
                                f"{', '.join(unknown)} (choices: {', '.join(sorted(subs))})")
                break
            level = [subs[n] for n in names]
            path.append(tok)
    return problems


def cli_problems(text: str, parser: argparse.ArgumentParser) -> list[str]:
    return [p for line in code_snippets(text) for p in command_problems(line, parser)]


# ---- comms templates -----------------------------------------------------------------------------
def placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def comms_problems(comms_dir: Path, templates: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    expected = {f"{k.replace('.', '-')}.md": k for k in templates}
    for fname, key in expected.items():
        f = comms_dir / fname
        if not f.is_file():
            problems.append(f"{key}: no {comms_dir.name}/{fname}")
            continue
        text = f.read_text()
        if f"`{key}`" not in text:
            problems.append(f"{fname}: does not name its template key `{key}`")
        blocks = [body for info, body in FENCE_RE.findall(text) if info.strip() == "text"]
        if not blocks:
            problems.append(f"{fname}: no ```text block with the template")
            continue
        doc_tpl = blocks[0].rstrip("\n")
        if placeholders(doc_tpl) != placeholders(templates[key]):
            problems.append(f"{fname}: placeholders {sorted(placeholders(doc_tpl))} != code's "
                            f"{sorted(placeholders(templates[key]))}")
        if doc_tpl != templates[key]:
            problems.append(f"{fname}: template text differs from comms.TEMPLATES[{key!r}]")
    orphans = sorted(p.name for p in comms_dir.glob("*.md") if p.name != "README.md" and p.name not in expected)
    if orphans:
        problems.append(f"files in docs/comms with no template in comms.py: {orphans}")
    return problems


# ---- links, scenarios, experiments ---------------------------------------------------------------
def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    h = re.sub(r"[`*_]", "", heading.strip().lower())
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def link_problems(doc: Path, text: str | None = None) -> list[str]:
    text = doc.read_text() if text is None else text
    problems = []
    for target in LINK_RE.findall(FENCE_RE.sub("", text)):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            problems.append(f"{doc.name}: link to missing {target}")
            continue
        if anchor and dest.suffix == ".md":
            anchors = {slug(h) for _, h in HEADING_RE.findall(FENCE_RE.sub("", dest.read_text()))}
            if anchor not in anchors:
                problems.append(f"{doc.name}: link to missing anchor {target}")
    return problems


def all_docs() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


# ==== the drift tests ==============================================================================
@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def test_runbook_steps_are_the_failover_plan_in_order() -> None:
    text = RUNBOOK.read_text()
    assert [name for _, name in parse_steps(text)] == list(FAILOVER_STEPS)
    assert plan_problems(text, FAILOVER_STEPS, BUDGETS) == []


def test_failback_steps_are_the_failback_plan_in_order() -> None:
    text = FAILBACK.read_text()
    assert [name for _, name in parse_steps(text)] == list(FAILBACK_STEPS)
    assert plan_problems(text, FAILBACK_STEPS, BUDGETS) == []


def test_documented_budget_totals_match_the_code() -> None:
    over = sum(BUDGETS[s] for s in FAILOVER_STEPS)
    back = sum(BUDGETS[s] for s in FAILBACK_STEPS)
    plan = (DOCS / "DISASTER_RECOVERY_PLAN.md").read_text()
    assert re.search(rf"failover budgets sum to {over} s \(the RTO\) and the failback budgets to {back} s", plan), \
        f"DISASTER_RECOVERY_PLAN.md must state the totals {over} s / {back} s"
    assert f"add up to {back} s" in FAILBACK.read_text()


def test_documented_orchestrator_defaults_match_the_code() -> None:
    cfg = OrchestratorConfig()
    runbook = RUNBOOK.read_text()
    assert f"**{cfg.decision_consecutive} consecutive** unhealthy verdicts" in runbook
    assert f"at or under {cfg.lag_threshold_ms:.0f} ms" in runbook
    assert f"{cfg.warmup_invokes} synthetic `GET /health` calls" in runbook
    assert f"`drain_window_s`, {cfg.drain_window_s:.0f} s on the CLI" in FAILBACK.read_text()


def test_every_comms_template_has_its_page() -> None:
    assert comms_problems(COMMS, TEMPLATES) == []


@pytest.mark.parametrize("doc", all_docs(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_drharness_command_in_the_docs_exists(doc: Path, parser: argparse.ArgumentParser) -> None:
    assert cli_problems(doc.read_text(), parser) == []


def test_the_docs_do_mention_the_cli(parser: argparse.ArgumentParser) -> None:
    """Guard against a scanner that silently finds nothing."""
    mentioned = set()
    for doc in OWNED:
        for line in code_snippets(doc.read_text()):
            mentioned.update(m.group(1).split()[0] for m in CMD_RE.finditer(line))
    assert {"failover", "failback", "health", "halt", "drill", "lab", "chaos"} <= mentioned
    assert set(_subparsers(parser)) <= mentioned | {"-v"}, "a CLI sub-command is not documented"


@pytest.mark.parametrize("doc", OWNED, ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_and_anchors_resolve(doc: Path) -> None:
    assert link_problems(doc) == []


def test_documented_scenarios_and_experiments_exist() -> None:
    from drharness.drill import SCENARIOS

    for doc in OWNED:
        text = doc.read_text()
        for name in re.findall(r"--scenario ([a-z][a-z-]+)", text):
            assert name in SCENARIOS, f"{doc.name}: --scenario {name} is not a drill scenario"
        for name in re.findall(r"experiments/([a-z][a-z-]+)\.json", text):
            assert (ROOT / "experiments" / f"{name}.json").is_file(), f"{doc.name}: experiments/{name}.json"


# ==== planted faults: each check must be able to fail ================================================
def _swap_sections(text: str, a: str, b: str) -> str:
    """The runbook with the sections of steps a and b exchanged (headings keep their numbers' order)."""
    secs = step_sections(text)
    heads = {m.group(2): m for m in STEP_RE.finditer(text)}
    ma, mb = sorted((heads[a], heads[b]), key=lambda m: m.start())
    body_a, body_b = secs[ma.group(2)], secs[mb.group(2)]
    head_a = f"### {ma.group(1)}. {mb.group(2)}"
    head_b = f"### {mb.group(1)}. {ma.group(2)}"
    return (text[:ma.start()] + head_a + body_b + text[ma.end() + len(body_a):mb.start()]
            + head_b + body_a + text[mb.end() + len(body_b):])


def test_planted_reordered_runbook_is_caught() -> None:
    text = _swap_sections(RUNBOOK.read_text(), "aurora_promotion", "dns")
    names = [name for _, name in parse_steps(text)]
    assert names != list(FAILOVER_STEPS)
    assert names.index("dns") < names.index("aurora_promotion")
    problems = plan_problems(text, FAILOVER_STEPS, BUDGETS)
    assert any("differ from the code's" in p for p in problems), problems


def test_planted_small_reordered_runbook_is_caught() -> None:
    text = "# x\n\n### 1. decision\n\nBudget: 300 s\n\n### 2. preflight\n\nBudget: 60 s\n"
    assert parse_steps(text) == [(1, "decision"), (2, "preflight")]
    assert plan_problems(text, ("preflight", "decision"), BUDGETS)
    fixed = (f"# x\n\n### 1. preflight\n\nBudget: {BUDGETS['preflight']} s\n\n### 2. decision\n\n"
             f"Budget: {BUDGETS['decision']} s\n")
    assert plan_problems(fixed, ("preflight", "decision"), BUDGETS) == []


def test_planted_wrong_missing_and_stray_budgets_are_caught() -> None:
    text = RUNBOOK.read_text()
    secs = step_sections(text)
    wrong = text.replace(secs["aurora_promotion"], secs["aurora_promotion"].replace("Budget: 300 s", "Budget: 240 s"))
    assert any("aurora_promotion: documented budget 240 s" in p for p in plan_problems(wrong, FAILOVER_STEPS, BUDGETS))
    missing = text.replace(secs["notify"], secs["notify"].replace("Budget: 10 s\n", ""))
    assert any("step notify: expected exactly one" in p for p in plan_problems(missing, FAILOVER_STEPS, BUDGETS))
    stray = "Budget: 5 s\n\n" + text
    assert any("outside the step sections" in p for p in plan_problems(stray, FAILOVER_STEPS, BUDGETS))


def test_planted_missing_and_misnumbered_steps_are_caught() -> None:
    text = FAILBACK.read_text()
    secs = step_sections(text)
    dropped = text.replace("### 3. drain" + secs["drain"], "")
    assert any("missing ['drain']" in p for p in plan_problems(dropped, FAILBACK_STEPS, BUDGETS))
    renumbered = text.replace("### 2. reseed", "### 7. reseed")
    assert any("not numbered" in p for p in plan_problems(renumbered, FAILBACK_STEPS, BUDGETS))


def test_planted_unknown_commands_and_options_are_caught(parser: argparse.ArgumentParser) -> None:
    bad = ("```bash\ndrharness frobnicate --now\ndrharness lab sideways\n"
           "drharness failover --teleport --yes\ndrharness failback --mode planned\n```\n"
           "and inline `drharness consistency audit` too\n")
    problems = cli_problems(bad, parser)
    joined = "\n".join(problems)
    assert "no sub-command frobnicate" in joined
    assert "no sub-command sideways" in joined
    assert "no option --teleport" in joined
    assert "drharness failback has no option --mode" in joined
    assert "no sub-command audit" in joined
    assert len(problems) == 5, problems


def test_good_command_forms_pass(parser: argparse.ArgumentParser) -> None:
    good = ("```bash\n.venv/bin/drharness drill run --scenario region-outage --report-dir r --json  # c\n"
            'eval "$(drharness chaos env --target aws --env x)"; chaos run experiments/region-outage.json\n'
            "drharness health --json | jq .\n```\n"
            "`drharness lab up|status|down`, `drharness failover --mode unplanned|planned --yes [--dry-run] "
            "[--run-id ID]`, `drharness <cmd>`, `drharness.cli`, `drharness failover <run id>`\n")
    assert cli_problems(good, parser) == []


def test_planted_comms_drift_is_caught(tmp_path: Path) -> None:
    comms = tmp_path / "comms"
    comms.mkdir()
    for key, tpl in TEMPLATES.items():
        (comms / f"{key.replace('.', '-')}.md").write_text(f"# t\n\n`{key}`\n\n```text\n{tpl}\n```\n")
    assert comms_problems(comms, TEMPLATES) == []
    renamed = TEMPLATES["internal.update"].replace("{steps}", "{step_list}")
    (comms / "internal-update.md").write_text(f"`internal.update`\n\n```text\n{renamed}\n```\n")
    (comms / "customer-resolved.md").unlink()
    (comms / "internal-escalate.md").write_text("orphan\n")
    problems = "\n".join(comms_problems(comms, TEMPLATES))
    assert "internal-update.md: placeholders" in problems
    assert "customer.resolved: no" in problems
    assert "internal-escalate.md" in problems


def test_planted_broken_link_is_caught() -> None:
    doc = DOCS / "DR_RUNBOOK.md"
    text = "[a](NOPE.md) [b](DISASTER_RECOVERY_PLAN.md#no-such-section) [c](DISASTER_RECOVERY_PLAN.md#known-gaps)"
    problems = link_problems(doc, text)
    assert len(problems) == 2, problems
