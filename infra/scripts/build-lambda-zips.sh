#!/usr/bin/env bash
# Build the Lambda artifacts Terraform deploys (hashicorp/archive is not used: it is not in the
# offline provider mirror). Zips are reproducible: sorted entries, fixed timestamps and modes, so
# an unchanged source gives an unchanged source_code_hash and no redeploy.
#
#   build/lambda/drharness-app.zip      src/drharness                      -> lambda_app_zip
#   build/lambda/drharness-harness.zip  src/drharness + infra/lambda/*.py  -> lambda_harness_zip
#   build/lambda/drharness-layer.zip    python/<deps>  (only with --layer REQUIREMENTS_FILE)
#
# Usage: infra/scripts/build-lambda-zips.sh [--out DIR] [--layer REQUIREMENTS_FILE]
#        [--python-version 3.12] [--platform manylinux2014_x86_64]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/build/lambda"
LAYER_REQUIREMENTS=""
PY_VERSION="3.12"
PLATFORM="manylinux2014_x86_64"
PYTHON="${PYTHON:-python3}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --layer) LAYER_REQUIREMENTS="$2"; shift 2 ;;
    --python-version) PY_VERSION="$2"; shift 2 ;;
    --platform) PLATFORM="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-lambda-zips.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [[ ! -d "$ROOT/src/drharness" ]]; then
  echo "build-lambda-zips.sh: $ROOT/src/drharness not found" >&2
  exit 2
fi
mkdir -p "$OUT"

# zip_tree OUTPUT.zip PREFIX_IN_ZIP:DIR_OR_FILE...
zip_tree() {
  "$PYTHON" - "$@" <<'PY'
import os
import sys
import zipfile
from pathlib import Path

FIXED = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}

out = Path(sys.argv[1])
entries: dict[str, Path] = {}
for spec in sys.argv[2:]:
    prefix, _, source = spec.partition(":")
    src = Path(source)
    if src.is_file():
        entries[f"{prefix}{src.name}" if prefix else src.name] = src
        continue
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in filenames:
            path = Path(dirpath, name)
            if path.suffix in SKIP_SUFFIXES:
                continue
            rel = path.relative_to(src).as_posix()
            entries[f"{prefix}{rel}"] = path

tmp = out.with_suffix(".zip.tmp")
with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
    for arcname in sorted(entries):
        info = zipfile.ZipInfo(arcname, date_time=FIXED)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, entries[arcname].read_bytes())
tmp.replace(out)
print(f"{out} ({len(entries)} files, {out.stat().st_size} bytes)")
PY
}

zip_tree "$OUT/drharness-app.zip" "drharness/:$ROOT/src/drharness"

harness_specs=("drharness/:$ROOT/src/drharness")
for f in "$ROOT"/infra/lambda/*.py; do harness_specs+=(":$f"); done
zip_tree "$OUT/drharness-harness.zip" "${harness_specs[@]}"

if [[ -n "$LAYER_REQUIREMENTS" ]]; then
  staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' EXIT
  # Wheels for the Lambda platform, not for this machine.
  "$PYTHON" -m pip install --quiet --requirement "$LAYER_REQUIREMENTS" --target "$staging/python" \
    --platform "$PLATFORM" --python-version "$PY_VERSION" --implementation cp --only-binary=:all:
  zip_tree "$OUT/drharness-layer.zip" "python/:$staging/python"
fi
