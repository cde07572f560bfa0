#!/usr/bin/env bash
# Static checks of the Terraform: fmt, then init (no backend) + validate of every environment.
# Offline-friendly: when /opt/tf-plugins exists, providers come from that filesystem mirror
# (infra/.terraformrc.offline). Needs nothing but terraform on PATH and no AWS credentials.
#
# Usage: infra/scripts/validate.sh [ENV_DIR...]   (default: every dir under infra/environments)
# Exit: 0 all good, 1 a check failed, 3 terraform not found.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PLUGIN_MIRROR="${DRHARNESS_TF_PLUGIN_MIRROR:-/opt/tf-plugins}"

if ! command -v terraform >/dev/null 2>&1; then
  echo "validate.sh: terraform not found on PATH (install Terraform >= 1.11)" >&2
  exit 3
fi

if [[ -d "$PLUGIN_MIRROR" ]]; then
  if [[ "$PLUGIN_MIRROR" == "/opt/tf-plugins" ]]; then
    export TF_CLI_CONFIG_FILE="$INFRA_DIR/.terraformrc.offline"
  else
    # A mirror elsewhere: write an equivalent CLI config pointing at it.
    cfg="$(mktemp)"
    trap 'rm -f "$cfg"' EXIT
    sed "s#/opt/tf-plugins#$PLUGIN_MIRROR#" "$INFRA_DIR/.terraformrc.offline" >"$cfg"
    export TF_CLI_CONFIG_FILE="$cfg"
  fi
  echo "providers: filesystem mirror $PLUGIN_MIRROR (TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE)"
fi
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1

if [[ $# -gt 0 ]]; then
  envs=("$@")
else
  envs=()
  for d in "$INFRA_DIR"/environments/*/; do envs+=("${d%/}"); done
fi

status=0

echo "== terraform fmt -check -recursive $INFRA_DIR"
if ! terraform fmt -check -recursive -diff "$INFRA_DIR"; then
  echo "FAIL fmt: run 'terraform fmt -recursive infra'" >&2
  status=1
fi

for env_dir in "${envs[@]}"; do
  name="$(basename "$env_dir")"
  echo "== $name: terraform init -backend=false"
  init_log="$(mktemp)"
  if ! terraform -chdir="$env_dir" init -backend=false -input=false -no-color >"$init_log" 2>&1; then
    cat "$init_log" >&2
    rm -f "$init_log"
    echo "FAIL init: $name" >&2
    status=1
    continue
  fi
  rm -f "$init_log"
  echo "== $name: terraform validate"
  if ! terraform -chdir="$env_dir" validate -no-color; then
    echo "FAIL validate: $name" >&2
    status=1
  fi
done

if [[ $status -eq 0 ]]; then
  echo "validate.sh: all checks passed (${#envs[@]} environments)"
fi
exit $status
