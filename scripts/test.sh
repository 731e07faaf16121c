#!/usr/bin/env bash
# Runs maand's whole test suite on a fresh Debian machine with the Rust
# toolchain: installs what the tests need first (as root, or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v python3 >/dev/null || need+=(python3)
# The original maand's secret and certificate encodings are produced with it
# (tests/import/original_bucket.py), never with maand's own sealing.
python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
command -v npm >/dev/null || command -v bun >/dev/null || need+=(npm)
# Real SSH workers on loopback (tests/common/workers.rs).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v rsync >/dev/null || need+=(rsync)
# man(1) renders the generated man pages (tests/shell_docs.rs).
command -v man >/dev/null || need+=(man-db)
# Go's text/template is the reference of the template test (tests/templates_go.rs).
command -v go >/dev/null || need+=(golang-go)
# The timeline page is checked in a real headless browser (tests/history_deploy.rs).
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# A python3 outside Debian's (pyenv, a venv) does not see the apt package.
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install -q cryptography
# promtool (Debian's prometheus package) checks the Prometheus config and
# rules maand stages (tests/prometheus.rs fails without it).
if ! command -v promtool >/dev/null; then
  echo "installing: prometheus (for promtool)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# Bun runs .ts/.js hooks; the npm package carries the binary.
if ! command -v bun >/dev/null; then
  echo "installing: bun (npm)"
  $SUDO npm install -g bun >/dev/null
fi

cargo fmt --all -- --check
# The tests run both binaries (maand and maand-journal); build them first,
# since `cargo test` only builds the binaries of the package under test.
cargo build --workspace --bins
cargo clippy --workspace --all-targets -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "maand: $passed passed, $failed failed"
exit "$status"
