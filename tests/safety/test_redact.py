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
