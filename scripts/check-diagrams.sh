#!/usr/bin/env bash
# The diagrams in README.md and k8s/README.md are drawn from the manifests by
# scripts/diagrams.py. This check fails when they drift, and when Mermaid
# itself cannot draw them (GitHub would then show an error box instead).
#
#   scripts/check-diagrams.sh      (scripts/test.sh runs it)
#
# 1. the script's own tests (scripts/diagrams_test.py);
# 2. every committed diagram equals what the current manifests draw;
# 3. every diagram renders with the pinned Mermaid CLI (scripts/mermaid/) in
#    headless Chromium, the same renderer GitHub uses.
#
# Tools: PyYAML in a venv ($DIAGRAMS_VENV, default .venv-diagrams), the
# Mermaid CLI installed with `npm ci` from scripts/mermaid/package-lock.json
# into .venv-mermaid (Chromium's own download is skipped: $CHROMIUM, default
# /usr/bin/chromium, renders). Needs python3, kubectl, node 18.19+ and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n==== %s (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

venv=${DIAGRAMS_VENV:-.venv-diagrams}
chromium=${CHROMIUM:-/usr/bin/chromium}

step "tools"
if ! "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
  echo "  installing PyYAML into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "PyYAML==6.0.3"
fi
for tool in kubectl node npm; do
  command -v "$tool" >/dev/null || { echo "check-diagrams: $tool not found (scripts/ci/install-deps.sh installs it)" >&2; exit 2; }
done
[ -x "$chromium" ] || { echo "check-diagrams: no Chromium at $chromium (set CHROMIUM)" >&2; exit 2; }
mermaid=.venv-mermaid
if ! cmp -s scripts/mermaid/package-lock.json "$mermaid/package-lock.json" || [ ! -x "$mermaid/node_modules/.bin/mmdc" ]; then
  echo "  installing the Mermaid CLI (scripts/mermaid/package-lock.json) into $mermaid"
  rm -rf "$mermaid"
  mkdir -p "$mermaid"
  cp scripts/mermaid/package.json scripts/mermaid/package-lock.json "$mermaid/"
  (cd "$mermaid" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "  $("$mermaid/node_modules/.bin/mmdc" --version 2>/dev/null | tail -n 1) (mermaid-cli), $("$venv/bin/python" --version)"

step "diagrams.py's own tests"
"$venv/bin/python" scripts/diagrams_test.py

step "committed diagrams match the manifests"
"$venv/bin/python" scripts/diagrams.py --check
echo "  ok: $("$venv/bin/python" scripts/diagrams.py --list | tr '\n' ' ')"

step "every diagram renders with Mermaid"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '{"executablePath": "%s", "args": ["--no-sandbox", "--disable-gpu"]}\n' "$chromium" >"$work/puppeteer.json"
failed=0
render() { # render NAME FILE: mmdc exits non-zero on a parse error
  if "$mermaid/node_modules/.bin/mmdc" --quiet -p "$work/puppeteer.json" -i "$2" -o "$work/$1.svg" >"$work/$1.log" 2>&1; then
    echo "  ok   $1"
  else
    echo "  FAIL $1"; sed 's/^/       /' "$work/$1.log" | head -n 20; failed=1
  fi
}
for name in $("$venv/bin/python" scripts/diagrams.py --list | cut -d: -f1); do
  "$venv/bin/python" scripts/diagrams.py --print "$name" >"$work/$name.mmd"
  render "$name" "$work/$name.mmd"
done
# The renderer must refuse a broken diagram, or the step above proves nothing.
printf 'flowchart LR\n  a --> [b\n' >"$work/broken.mmd"
if "$mermaid/node_modules/.bin/mmdc" --quiet -p "$work/puppeteer.json" -i "$work/broken.mmd" -o "$work/broken.svg" >/dev/null 2>&1; then
  echo "  FAIL a broken diagram rendered: the Mermaid check cannot fail"; failed=1
else
  echo "  ok   a broken diagram is refused"
fi
[ "$failed" = 0 ] || exit 1
step "diagrams: all checks passed"
