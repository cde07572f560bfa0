"""Hostile and broken input, fuzzed with hypothesis: every parser of user input answers one clear
error and a documented non-zero exit, never a traceback and never a half-applied action.

Covered: CLI argv (``drharness`` main in-process), history JSONL files, ``lab.json``, tfvars/HCL for
``plan check``, drill scenario / feature parameters, experiment files (parse/validate layer only). No lab runs here: a command that would act
finds no lab (exit 3) and ``lab up`` is disabled, so nothing can be applied. Figures (examples
tried) are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drharness import cli
from drharness.errors import BadInput, DrHarnessError, EnvironmentProblem
from drharness.history import HistoryError, load_history

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
OK_EXITS = {0, 1, 2, 3}

WORDS = ["lab", "up", "down", "status", "drill", "run", "failover", "failback", "health", "halt", "report",
         "plan", "check", "chaos", "env", "consistency", "lag", "--json", "--yes", "--dry-run", "--scenario",
         "--target", "aws", "local", "--env", "--mode", "planned", "unplanned", "--run-id", "--report-dir",
         "--history", "--dir", "--profile", "fast", "realistic", "--force", "--force-unlock", "--strict",
         "-v", "--region", "region-outage", "us-east-1", "--dns-port", "-1", "99999999999", "", "\x00", "é",
         "--keep-lab", "--history-dir"]
junk = st.text(alphabet=st.characters(blacklist_characters="./\\", blacklist_categories=["Cs"]), max_size=12)
argv = st.lists(st.one_of(st.sampled_from(WORDS), junk), max_size=7)


@pytest.fixture
def no_lab(tmp_path, monkeypatch):
    """No lab (commands that act stop at 'no running lab', exit 3) and `lab up` cannot start one."""
    import drharness.lab.manager as manager

    def refuse(*a, **k):  # noqa: ANN002, ANN003
        raise EnvironmentProblem("lab up is disabled while fuzzing")

    monkeypatch.setattr(manager, "lab_up", refuse)
    monkeypatch.setenv("DRHARNESS_LAB_STATE", str(tmp_path / "no-lab" / "lab.json"))
    monkeypatch.delenv("DRHARNESS_TF_OUTPUTS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(args: list[str]) -> int:
    try:
        return cli.main(args)
    except SystemExit as exc:  # argparse: --help (0) or one-line usage error (2)
        return int(exc.code or 0)


@FUZZ
@given(args=argv)
def test_cli_argv_never_tracebacks(no_lab, capsys, args):
    rc = run_main(args)
    out = capsys.readouterr()
    assert rc in OK_EXITS, (args, rc)
    assert "Traceback" not in out.err + out.out, args
    if rc == 2:
        assert out.err.strip(), args  # a clear message, not silence


def test_cli_bad_input_examples_give_one_line(no_lab, capsys):
    """Planted bad inputs the property must treat as bad (the fuzz test cannot pass vacuously)."""
    for args, code in ((["drill", "run", "--scenario", "nope"], 2), (["failover", "--mode", "sideways"], 2),
                       (["lab", "up", "--dns-port", "x"], 2), (["failover", "--target", "aws"], 2),
                       (["health"], 3)):
        assert run_main(args) == code, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("drharness"), (args, err)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8))
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                                          max_size=4), max_leaves=8)
event_like = st.fixed_dictionaries({}, optional={"t": json_value, "process": json_value, "type": json_value,
                                                 "f": json_value, "value": json_value, "region": json_value})
history_line = st.one_of(event_like.map(json.dumps), json_value.map(json.dumps), st.text(max_size=30))


@FUZZ
@given(lines=st.lists(history_line, max_size=6), torn=st.booleans())
def test_history_files_load_or_fail_with_a_history_error(tmp_path_factory, lines, torn):
    path = tmp_path_factory.mktemp("h") / "history.jsonl"
    path.write_text("\n".join(lines) + ("" if torn else "\n"))
    try:
        load_history(path, allow_torn_tail=torn)
    except HistoryError as exc:
        assert str(exc) and "\n" not in str(exc).strip()


def test_history_error_names_the_line():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "h.jsonl"
        p.write_text('{"t": 1, "process": "p", "type": "ok", "f": "x"}\n{"t": "soon"}\n')
        with pytest.raises(HistoryError, match="2"):
            load_history(p)


LAB_KEYS = ["schema", "profile", "regions", "dns", "edge_url", "resources", "account_id", "control_url",
            "components", "extra"]


@FUZZ
@given(doc=st.one_of(json_value, st.dictionaries(st.sampled_from(LAB_KEYS), json_value, max_size=10)),
       schema=st.booleans())
def test_lab_json_is_accepted_or_refused_cleanly(tmp_path_factory, doc, schema):
    from drharness.lab.state import SCHEMA
    from drharness.target import from_lab

    path = tmp_path_factory.mktemp("lab") / "lab.json"
    if schema and isinstance(doc, dict):
        doc["schema"] = SCHEMA
    path.write_text(json.dumps(doc))
    try:
        from_lab(path)
    except (BadInput, EnvironmentProblem) as exc:
        assert str(exc)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # pragma: no cover - the bug we hunt
        pytest.fail(f"lab.json {doc!r} crashed the target builder: {type(exc).__name__}: {exc}")


hcl_scalar = st.one_of(st.integers(-10**6, 10**6).map(str), st.text(max_size=10).map(json.dumps),
                       st.sampled_from(["true", "false", "null", "[]", "{}", "[1,", "\"unterminated", "${x}", "-",
                                        "1e999", "\"us-east-1\"", "30", "3", "60"]))


@pytest.fixture(scope="module")
def env_copy(tmp_path_factory):
    src = REPO / "infra" / "environments" / "prod-us-west-2"
    dst = tmp_path_factory.mktemp("env") / "prod"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return dst


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(line_no=st.integers(0, 200), value=hcl_scalar, garbage=st.one_of(st.none(), st.text(max_size=40)))
def test_plan_check_tfvars_fuzz(env_copy, capsys, line_no, value, garbage):
    tfvars = env_copy / "terraform.tfvars"
    original = (REPO / "infra" / "environments" / "prod-us-west-2" / "terraform.tfvars").read_text()
    lines = original.splitlines()
    assignments = [i for i, x in enumerate(lines) if "=" in x and not x.lstrip().startswith("#")]
    if garbage is not None:
        text = garbage
    else:
        i = assignments[line_no % len(assignments)]
        lines[i] = lines[i].split("=", 1)[0] + "= " + value
        text = "\n".join(lines)
    tfvars.write_text(text)
    try:
        rc = run_main(["plan", "check", str(env_copy)])
    finally:
        tfvars.write_text(original)
    out = capsys.readouterr()
    assert rc in OK_EXITS and "Traceback" not in out.err + out.out, text[:200]


@FUZZ
@given(name=st.text(max_size=30))
def test_scenario_and_feature_parameters(name):
    """A feature's "{scenario}" or --scenario: known, or BadInput; never a path outside experiments/."""
    from drharness.chaos.runner import EXPERIMENTS_DIR, experiment_path
    from drharness.drill import SCENARIOS, Drill, DrillConfig

    try:
        p = experiment_path(name)
        assert p.resolve().parent == EXPERIMENTS_DIR.resolve()
    except BadInput:
        pass
    if name not in SCENARIOS:
        with pytest.raises(BadInput):
            Drill(None, DrillConfig(scenario=name))  # type: ignore[arg-type] - refused before the target is used


def test_errors_have_documented_exit_codes():
    assert {BadInput.exit_code, EnvironmentProblem.exit_code, DrHarnessError.exit_code} == {2, 3, 1}


# ---- experiment files -----------------------------------------------------------------------------
REAL_EXPERIMENTS = sorted((REPO / "experiments").glob("*.json"))
HOSTILE_TEXT = ["", "not json", "{", "[]", "null", "42", '"title"', "{\"title\": 1}", "\ufeff{}",
                "[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000]
MODULES = ["os", "subprocess", "builtins", "drharness.chaos.probes", "chaosaws.fis.actions", "chaoslib",
           "drharness.no_such_module", "chaosaws.nope", "", "../../etc/passwd", "drharness.chaos.control"]


def _paths(doc):  # noqa: ANN001, ANN202 - every (container, key) in a JSON document
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield doc, k
            yield from _paths(v)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield doc, i
            yield from _paths(v)


@st.composite
def hostile_experiments(draw: st.DrawFn) -> bytes:
    """A real experiment with 1-3 mutations (a value replaced by any JSON, a key deleted, a provider
    module or type swapped, wrong nesting), or hostile text and bytes."""
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "text", "bytes", "deep"]))
    if kind == "text":
        return draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=60))).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "deep":
        depth = draw(st.integers(20, 3000))
        return (json.dumps({"title": "t", "method": []})[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}").encode()
    doc = json.loads(draw(st.sampled_from(REAL_EXPERIMENTS)).read_text())
    for _ in range(draw(st.integers(1, 3))):
        spots = list(_paths(doc))
        container, key = draw(st.sampled_from(spots))
        action = draw(st.sampled_from(["replace", "delete", "module", "type"]))
        if action == "delete" and isinstance(container, dict):
            del container[key]
        elif action == "module":
            provider = next((a.get("provider") for a in doc.get("method", []) if isinstance(a, dict)), None)
            if isinstance(provider, dict):
                provider["module"] = draw(st.sampled_from(MODULES))
                provider["type"] = "python"
        elif action == "type" and isinstance(container, dict):
            container["type"] = draw(st.sampled_from(["python", "process", "http", "action", "probe", "shell", 1]))
        else:
            container[key] = draw(json_value)
    return json.dumps(doc).encode()


@FUZZ
@given(data=hostile_experiments())
def test_hostile_experiment_files_give_one_clear_error(tmp_path_factory, data):
    """The parse/validate layer of run_experiment (no experiment is run): a valid experiment or one
    BadInput line naming the file; never a traceback."""
    from drharness.chaos.runner import validate_experiment

    path = tmp_path_factory.mktemp("exp") / "hostile.json"
    path.write_bytes(data)
    try:
        doc = validate_experiment(path)
    except BadInput as exc:
        msg = str(exc)
        assert msg.startswith(f"experiment {path}:") and "\n" not in msg and len(msg) < 600, msg
    else:
        assert isinstance(doc, dict) and doc["method"]
        assert b'"module": "os"' not in data and b'"module": "subprocess"' not in data


def test_experiment_validation_refuses_planted_hostile_files(tmp_path):
    """Planted cases the property must treat as bad (so it cannot pass vacuously), and every real
    experiment validates."""
    from drharness.chaos.runner import validate_experiment

    for p in REAL_EXPERIMENTS:
        assert validate_experiment(p)["method"], p
    base = json.loads((REPO / "experiments" / "dynamodb-replication-pause.json").read_text())
    no_method = {k: v for k, v in base.items() if k != "method"}
    bad_module = json.loads(json.dumps(base))
    bad_module["method"][0]["provider"]["module"] = "os"
    no_func = json.loads(json.dumps(base))
    no_func["method"][0]["provider"]["func"] = "no_such_function"
    wrong_type = {**base, "method": "start everything"}
    cases = {"not JSON": b"{'title': nope", "must be a JSON object": b"[1, 2]",
             "'method' must be a non-empty list": json.dumps(no_method).encode(),
             "is not one drharness runs": json.dumps(bad_module).encode(),
             "no_such_function": json.dumps(no_func).encode(),
             "'method' must be a non-empty list of activities": json.dumps(wrong_type).encode(),
             "nested deeper": b"[" * 100_000 + b"]" * 100_000, "not UTF-8": b"\xff\xfe{}"}
    for expected, data in cases.items():
        path = tmp_path / "e.json"
        path.write_bytes(data)
        with pytest.raises(BadInput, match=expected.replace("(", r"\(")):
            validate_experiment(path)
