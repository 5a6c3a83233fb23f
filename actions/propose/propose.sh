#!/usr/bin/env bash
# The logic of the propose action, runnable outside GitHub Actions with the
# runner's environment: the inputs as PROPOSE_* variables, the token as
# GITHUB_TOKEN, and GITHUB_OUTPUT naming the file the outputs go to. It
# expects modelgate on PATH (actions/setup puts it there).
set -euo pipefail

: "${PROPOSE_REPO:?the input repo is required}"
: "${PROPOSE_MANIFEST:?the input manifest is required}"
: "${GITHUB_TOKEN:?the input token is required}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT must name the file of the step outputs}"

args=(propose --repo "$PROPOSE_REPO" --manifest "$PROPOSE_MANIFEST" --format json)
[ -n "${PROPOSE_STAGE:-}" ] && args+=(--stage "$PROPOSE_STAGE")
[ -n "${PROPOSE_BASE:-}" ] && args+=(--base "$PROPOSE_BASE")
[ -n "${PROPOSE_EVIDENCE:-}" ] && args+=(--evidence "$PROPOSE_EVIDENCE")
[ -n "${PROPOSE_GITHUB_URL:-}" ] && args+=(--github-url "$PROPOSE_GITHUB_URL")

out="$(modelgate "${args[@]}")"
echo "$out"

# modelgate writes one field a line; the three read here are flat strings
# and numbers, without quotes or escapes in them.
field() {
	sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" <<<"$out"
}
{
	echo "action=$(field action)"
	echo "pull-request-number=$(field pull_request_number)"
	echo "pull-request-url=$(field pull_request_url)"
} >>"$GITHUB_OUTPUT"
