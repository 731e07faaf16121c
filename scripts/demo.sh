#!/usr/bin/env bash
# maand's demo on a new machine: builds maand, creates a demo bucket,
# describes three workers and a job, builds the catalog (no SSH needed for
# build), shows it, and audits the journal. Set MAAND_DEMO_DIR to keep the
# bucket somewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace --quiet
bin="$PWD/target/release"
demo="${MAAND_DEMO_DIR:-$(mktemp -d /tmp/maand-demo.XXXXXX)}"
mkdir -p "$demo"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
maand() { "$bin/maand" --bucket "$demo" "$@"; }
journal() { "$bin/maand-journal" --bucket "$demo" "$@"; }

step maand init
cat > "$demo/workspace/workers.json" <<'JSON'
[
  {"host": "10.0.0.1", "labels": ["web"], "memory": "2 gb", "cpu": "2 ghz", "tags": {"zone": "a"}},
  {"host": "10.0.0.2", "labels": ["web"], "memory": "2 gb", "cpu": "2 ghz", "tags": {"zone": "b"}},
  {"host": "10.0.0.3", "labels": ["web"], "memory": "2 gb", "cpu": "2 ghz", "tags": {"zone": "c"}}
]
JSON
step maand job create web --selectors web
cat > "$demo/workspace/jobs/web/manifest.json" <<'JSON'
{
  "version": "1.0.0",
  "selectors": ["web"],
  "max_concurrent_upgrades": 1,
  "resources": {"memory": {"max": "256 mb"}, "ports": {"web_http_port": {}}},
  "certs": {"tls": {"subject": {"common_name": "web.internal"}}}
}
JSON
step maand build
step maand build
step maand cat allocations
step maand cat kv --jobs web --workers 10.0.0.2
step maand cat certs
step maand info
step journal sessions
step journal verify
printf '\ndemo bucket: %s\n' "$demo"
