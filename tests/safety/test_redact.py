"""Redaction units: every writer masks known secrets, DSN/URL passwords and secret-named keys."""

from __future__ import annotations

import json

from drharness.history import History, load_history
from drharness.safety import redact

SECRET = "PLANTED-unit-secret-Zq9"


def test_secret_named_env_values_are_masked_everywhere(monkeypatch):
    monkeypatch.setenv("DRHARNESS_SLACK_TOKEN", SECRET)
    text = redact.redact_text(f"posted with {SECRET} ok", redact.known_secrets())
    assert SECRET not in text and redact.MASK in text


def test_dsn_and_url_passwords_are_masked():
    out = redact.redact_text("host=db port=5432 user=app password=s3cr3t-pw dbname=x; "
                             "postgresql://app:hunter2xyz@db:5432/x", [])
    assert "s3cr3t-pw" not in out and "hunter2xyz" not in out
    assert "host=db" in out and "@db:5432" in out  # only the password goes
    assert "s3cr3t-pw" in redact.dsn_passwords("host=db password=s3cr3t-pw")


def test_secret_named_keys_are_masked_but_ordinary_fields_are_kept():
    doc = {"env": {"API_TOKEN": "abc", "TABLE_NAME": "orders"}, "verdict": "pass", "token_count": 3,
           "nested": [{"db_password": "x1"}], "aws_access_key_id": "AKIDEXAMPLE"}
    out = redact.redact(doc, [])
    assert out["env"] == {"API_TOKEN": redact.MASK, "TABLE_NAME": "orders"}
    assert out["nested"][0]["db_password"] == redact.MASK
    assert out["verdict"] == "pass" and out["token_count"] == 3 and out["aws_access_key_id"] == "AKIDEXAMPLE"


def test_json_escaped_secret_inside_a_line_is_masked_and_the_line_stays_json():
    tricky = 'PLANTED"quote\\slash'
    redact.register(tricky)
    line = json.dumps({"detail": f"boom {tricky}"})
    out = redact.redact_text(line)
    assert tricky not in json.loads(out)["detail"]


def test_history_writer_redacts_registered_secrets(tmp_path):
    redact.register(SECRET + "-history")
    h = History(tmp_path / "h.jsonl")
    h.append("harness", "ok", "note", {"error": f"connect failed password={SECRET}-history"})
    h.close()
    raw = (tmp_path / "h.jsonl").read_text()
    assert SECRET not in raw
    assert len(load_history(tmp_path / "h.jsonl")) == 1  # still a valid history


# ---- Chaos Toolkit runs and logs (docs/SECURITY.md §4) ----------------------------------------------
TOKEN = "PLANTED-session-token-Xy7"
DSN = "host=db user=app password=PLANTEDdsnPw9"


def _failed_journal() -> dict:
    """A chaoslib journal whose failed activity's exception and output carry secrets, as a boto3 or
    psycopg error and a chaosaws get_function_configuration output would."""
    return {"status": "completed", "deviated": False, "experiment": {"title": "t"}, "rollbacks": [],
            "run": [{"activity": {"name": "connect"}, "status": "failed",
                     "exception": [f"OperationalError: connection to {DSN} failed (token {TOKEN})"],
                     "output": {"Environment": {"Variables": {"API_TOKEN": "PLANTEDlambda42"}}}}]}


def test_chaos_judge_writes_and_returns_a_redacted_report(tmp_path):
    from drharness.chaos.judge import judge_files

    redact.register(TOKEN)  # as the target's session token is (the environment is read at most once a second)
    h = History(tmp_path / "history.jsonl")
    h.drill_end(h.drill_start({"scenario": "dynamodb-replication-pause"}))
    h.close()
    report = judge_files(tmp_path, _failed_journal())
    assert any("connect" in e for e in report["errors"])  # the failure is reported ...
    for text in (json.dumps(report), (tmp_path / "drill-report.json").read_text(),
                 (tmp_path / "drill-report.md").read_text()):
        assert TOKEN not in text and "PLANTEDdsnPw9" not in text  # ... without its secrets


def test_chaos_control_redacts_the_journal_chaos_run_writes():
    from drharness.chaos import control

    redact.register(TOKEN)  # as the target's session token is (the environment is read at most once a second)
    journal = _failed_journal()
    same = journal
    control.after_experiment_control({"title": "t"}, state=journal)  # no session open: only the redaction
    assert journal is same  # in place: chaoslib hands this dict back to `chaos run`
    text = json.dumps(journal)
    assert TOKEN not in text and "PLANTEDdsnPw9" not in text and "PLANTEDlambda42" not in text
    assert journal["status"] == "completed" and journal["run"][0]["status"] == "failed"


def test_log_filter_masks_botocore_wire_logs_and_tracebacks():
    import logging

    redact.register(TOKEN)  # as the target's session token is (the environment is read at most once a second)
    lines = [
        "Sending http request: <AWSPreparedRequest headers={'X-Amz-Security-Token': b'FwoGZXIvYXdzUnknownTok', "
        "'Authorization': b'AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/sts/aws4_request, "
        "SignedHeaders=host, Signature=0fb4621f688ea142ecdc7ec04035bed40e05eb97da8c8f3476f45585efb08b82'}>",
        "CanonicalRequest:\nPOST\n/\n\nx-amz-security-token:FwoGZXIvYXdzUnknownTok\n",
        "Signature:\n0fb4621f688ea142ecdc7ec04035bed40e05eb97da8c8f3476f45585efb08b82",
        "Response body:\nb'{\"SecretString\": \"PLANTEDsecretValue\", \"Name\": \"db\"}'",
        "<AssumeRoleResult><Credentials><SecretAccessKey>PLANTEDsak</SecretAccessKey><SessionToken>PLANTEDst"
        "</SessionToken><AccessKeyId>AKID</AccessKeyId></Credentials></AssumeRoleResult>",
        f"connect {DSN} with %s",
    ]
    f = redact.RedactingFilter()
    for line in lines:
        rec = logging.LogRecord("botocore.endpoint", logging.DEBUG, __file__, 1, line, (TOKEN,) if "%s" in line else None,
                                None)
        assert f.filter(rec)
        out = rec.getMessage()
        for secret in ("FwoGZXIvYXdzUnknownTok", "0fb4621f688ea142", "PLANTEDsecretValue", "PLANTEDsak", "PLANTEDst",
                       "PLANTEDdsnPw9", TOKEN):
            assert secret not in out, out
        assert redact.MASK in out
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError:
        import sys

        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    f.filter(rec)
    assert TOKEN not in logging.Formatter().format(rec)


def test_log_redaction_is_installed_on_the_chaostoolkit_handlers(tmp_path):
    import logging

    from drharness.chaos import control

    redact.register(TOKEN)  # as the target's session token is (the environment is read at most once a second)
    logger = logging.getLogger("chaostoolkit")
    handler = logging.FileHandler(tmp_path / "chaostoolkit.log")  # what `chaos run --log-file` adds
    logger.addHandler(handler)
    try:
        control._redact_logs()
        logger.warning("activity returned %s", {"token": TOKEN, "dsn": DSN})
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "chaostoolkit.log").read_text()
    assert "activity returned" in text and TOKEN not in text and "PLANTEDdsnPw9" not in text
