#!/usr/bin/env bash
# The gate action: modelgate gate on the checkout, as the App judges a pull
# request. Denials become annotations on the manifest lines, the report goes
# to the job summary, and the exit code fails the job. It reads what a runner
# gives a step (GITHUB_WORKSPACE, GITHUB_EVENT_PATH, GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY, RUNNER_TEMP) and the action's inputs (INPUT_*), so
# that it runs the same outside GitHub.
set -euo pipefail

path="${INPUT_PATH:-${GITHUB_WORKSPACE:?GITHUB_WORKSPACE is not set}}"
base="${INPUT_BASE:-}"
head="${INPUT_HEAD:-}"
author="${INPUT_AUTHOR:-}"
approvals_in="${INPUT_APPROVALS:-}"
database="${INPUT_DATABASE:-}"
modelgate="${MODELGATE:-modelgate}"

fail() {
  echo "modelgate gate: $*" >&2
  exit 2
}

command -v "$modelgate" >/dev/null || fail "modelgate is not on PATH: run modelgate/modelgate/actions/setup first"
cd "$path"
work="$(mktemp -d "${RUNNER_TEMP:?RUNNER_TEMP is not set}/modelgate-gate.XXXXXX")"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}" "${GITHUB_STEP_SUMMARY:?GITHUB_STEP_SUMMARY is not set}"

if [ -f "${GITHUB_EVENT_PATH:-}" ]; then
  command -v jq >/dev/null || fail "jq is not installed (GitHub's hosted runners have it)"
  [ -n "$base" ] || base="$(jq -r '.pull_request.base.sha // ""' "$GITHUB_EVENT_PATH")"
  [ -n "$head" ] || head="$(jq -r '.pull_request.head.sha // ""' "$GITHUB_EVENT_PATH")"
  [ -n "$author" ] || author="$(jq -r '.pull_request.user.login // ""' "$GITHUB_EVENT_PATH")"
fi
if [ -z "$base" ] || [ -z "$head" ]; then
  fail "no base and head: run on pull_request, or set the inputs base and head"
fi
for rev in "$base" "$head"; do
  git cat-file -e "$rev^{commit}" 2>/dev/null || fail "$rev is not in the checkout: check out with fetch-depth: 0"
done

args=(gate --repo . --base "$base" --head "$head" --format github --summary "$work/report.md"
  --database "${database:-${MODELGATE_DATABASE:-$work/audit.db}}")
[ -z "$author" ] || args+=(--author "$author")
while IFS= read -r a; do
  args+=(--approved-by "$a")
done < <(printf '%s\n' "$approvals_in" | tr ' ' '\n' | grep -v '^$' || true)

rc=0
"$modelgate" "${args[@]}" || rc=$?
[ ! -f "$work/report.md" ] || cat "$work/report.md" >>"$GITHUB_STEP_SUMMARY"
case "$rc" in
0) echo "allowed=true" >>"$GITHUB_OUTPUT" ;;
1) echo "allowed=false" >>"$GITHUB_OUTPUT" ;;
esac
exit "$rc"
