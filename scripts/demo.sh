#!/usr/bin/env bash
# maand's demo on a new machine: builds maand, creates a demo bucket, shows
# it, and audits its journal. Set MAAND_DEMO_DIR to keep the bucket somewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace --quiet
bin="$PWD/target/release"
demo="${MAAND_DEMO_DIR:-$(mktemp -d /tmp/maand-demo.XXXXXX)}"
mkdir -p "$demo"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$bin/maand" --bucket "$demo" init
step "$bin/maand" --bucket "$demo" init
step "$bin/maand" --bucket "$demo" info
step "$bin/maand-journal" --bucket "$demo" sessions
step "$bin/maand-journal" --bucket "$demo" show 1
step "$bin/maand-journal" --bucket "$demo" verify
printf '\ndemo bucket: %s\n' "$demo"
