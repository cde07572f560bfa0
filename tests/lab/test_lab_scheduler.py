"""The lab's Lambda runtime loads a handler from the function's deployment package, as Lambda does.

Terraform's schedules name ``health_check_aggregator.handler``: a module at the root of the harness
zip (infra/scripts/build-lambda-zips.sh), not importable from the lab's own sys.path.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from drharness.lab.scheduler import ImportModuleError, InProcessRuntime, LabScheduler

REPO = Path(__file__).resolve().parents[2]


def _zip(files: dict[str, str]) -> tuple[str, bytes]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    data = buf.getvalue()
    return hashlib.sha256(data).hexdigest(), data


HANDLER_V1 = "import os\ndef handler(event, context):\n    return {'v': 1, 'file': __file__, 'x': os.environ.get('X')}\n"
HANDLER_V2 = "def handler(event, context):\n    return {'v': 2}\n"


@pytest.fixture
def runtime() -> Iterator[InProcessRuntime]:
    rt = InProcessRuntime()
    yield rt
    rt.close()
    for name in [m for m in sys.modules if m.startswith(("drh_probe_fn", "drh_probe_pkg", "health_check_aggregator"))]:
        del sys.modules[name]


def test_a_root_module_of_the_package_runs_as_deployed(runtime: InProcessRuntime) -> None:
    """Planted: without its package the handler cannot be imported (what the scheduler did before)."""
    with pytest.raises(ImportModuleError, match="drh_probe_fn"):
        runtime.invoke("drh_probe_fn.handler", {}, {})
    out = runtime.invoke("drh_probe_fn.handler", {"X": "1"}, {}, code=_zip({"drh_probe_fn.py": HANDLER_V1}))
    assert out["v"] == 1 and out["x"] == "1" and out["file"].startswith("<lambda package ")
    assert "X" not in os.environ  # the function's environment only while it runs
    # new code (another sha): the next invocation runs it
    assert runtime.invoke("drh_probe_fn.handler", {}, {}, code=_zip({"drh_probe_fn.py": HANDLER_V2})) == {"v": 2}


def test_packages_in_the_zip_import_their_own_submodules(runtime: InProcessRuntime) -> None:
    code = _zip({"drh_probe_pkg/__init__.py": "", "drh_probe_pkg/helper.py": "VALUE = 42\n",
                 "drh_probe_pkg/fn.py": "from drh_probe_pkg import helper\n"
                                        "def handler(event, context):\n    return helper.VALUE\n"})
    assert runtime.invoke("drh_probe_pkg.fn.handler", {}, {}, code=code) == 42


def test_missing_module_or_function_is_lambdas_import_error(runtime: InProcessRuntime) -> None:
    code = _zip({"drh_probe_fn.py": HANDLER_V2})
    with pytest.raises(ImportModuleError, match="not in the function's deployment package"):
        runtime.load("drh_probe_other.handler", code)
    with pytest.raises(ImportModuleError, match="missing"):
        runtime.load("drh_probe_fn.nothing", code)
    with pytest.raises(ImportModuleError, match="Bad handler"):
        runtime.load("handler", code)


def test_the_labs_own_package_is_shared_not_reloaded(runtime: InProcessRuntime) -> None:
    import drharness.aggregator

    func = runtime.load("drharness.aggregator.lambda_handler", _zip({"other.py": ""}))
    assert func is drharness.aggregator.lambda_handler


def test_the_terraform_harness_zip_serves_health_check_aggregator(runtime: InProcessRuntime, tmp_path: Path) -> None:
    subprocess.run(["bash", str(REPO / "infra" / "scripts" / "build-lambda-zips.sh"), "--out", str(tmp_path)],
                   check=True, capture_output=True, env={**os.environ, "PYTHON": sys.executable}, timeout=120)
    data = (tmp_path / "drharness-harness.zip").read_bytes()
    func = runtime.load("health_check_aggregator.handler", (hashlib.sha256(data).hexdigest(), data))
    assert sys.modules["health_check_aggregator"].__file__.startswith("<lambda package ")
    assert func.__module__ == "health_check_aggregator"


def test_a_schedule_fires_the_handler_from_the_functions_package() -> None:
    """End to end on moto: a rate() schedule targeting a function whose handler lives only in its zip."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        kw = {"endpoint_url": url, "region_name": "us-west-2", "aws_access_key_id": "lab",
              "aws_secret_access_key": "lab"}
        role = boto3.client("iam", **kw).create_role(RoleName="drh-probe", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
        _, data = _zip({"drh_probe_fn.py": HANDLER_V1})
        fn = boto3.client("lambda", **kw).create_function(
            FunctionName="drh-probe", Runtime="python3.12", Role=role, Handler="drh_probe_fn.handler",
            Code={"ZipFile": data}, Environment={"Variables": {"X": "from-lambda"}})
        boto3.client("scheduler", **kw).create_schedule(
            Name="drh-probe", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": fn["FunctionArn"], "RoleArn": role, "Input": "{}"})
        sched = LabScheduler(url, ("us-west-2",), lambda r: True, period_override_s=0.2).start()
        try:
            deadline = time.monotonic() + 20
            st = sched.schedules[("us-west-2", "drh-probe")]
            while st.last_result is None and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            sched.stop()
        assert st.errors == 0, st.last_error
        assert st.last_result["v"] == 1 and st.last_result["x"] == "from-lambda"
    finally:
        server.stop()
        sys.modules.pop("drh_probe_fn", None)
