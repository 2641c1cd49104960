#!/usr/bin/env bash
# Print the tag every image gets: $TAG if set, else the workspace version
# (Cargo.toml [workspace.package]) plus the git short commit, e.g.
# 0.1.0-9797a8a. build-images.sh, push-images.sh and load-images.sh all use
# this (scripts/lib/images.sh), so they always agree.
#
#   scripts/image-tag.sh              # 0.1.0-9797a8a
#   scripts/image-tag.sh --version    # 0.1.0
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/images.sh
case "${1:-}" in
  --version) workspace_version ;;
  "") image_tag ;;
  *) echo "usage: $0 [--version]" >&2; exit 2 ;;
esac
