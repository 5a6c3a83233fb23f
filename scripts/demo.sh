#!/usr/bin/env bash
# Turns examples/ into a real git repository — the example state landed four days
# ago on main, and one branch per promotion in examples/promotions/ — and judges
# each branch with the local gate: checks, policies and the audit log. The repository and the audit log are kept in a
# temporary folder so that they can be explored afterwards.
set -euo pipefail

bin=$(realpath "${1:-bin/modelgate}")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/modelgate-demo.XXXXXX")
repo=$work/gitops
db=$work/audit.db

git_at() { # git_at DATE ARGS...: git with a fixed identity, committing at DATE
  local at=$1; shift
  GIT_AUTHOR_DATE=$at GIT_COMMITTER_DATE=$at \
    git -C "$repo" -c user.name="Acme ML Platform" -c user.email=ml-platform@acme.example -c commit.gpgsign=false "$@"
}

git init -q -b main "$repo"
cp -R "$root/examples/gitops/." "$repo/"
git_at "$(date -u -d '4 days ago' +%Y-%m-%dT%H:%M:%SZ)" add -A
git_at "$(date -u -d '4 days ago' +%Y-%m-%dT%H:%M:%SZ)" commit -q -m "Model repository: fraud-detector and demand-forecast in dev, staging and production"

# The organisation's own rules (model_risk.rego) judge every promotion below
# beside the built-in ones; their Rego tests come first.
echo "════ the organisation's policies"
(cd "$repo" && "$bin" policy test)
echo

for promotion in "$root"/examples/promotions/*/; do
  name=$(basename "$promotion")
  git_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" checkout -q -b "promote/$name" main
  cp -R "$promotion." "$repo/"
  git_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" add -A
  git_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" commit -q -m "Promote $name"
  echo "════ promote/$name"
  code=0
  # Both pull requests have the approvals production asks for: what tells
  # them apart is the evidence and the stage history.
  "$bin" gate --repo "$repo" --base main --head "promote/$name" --author data-scientist \
    --approved-by bob:compliance --approved-by carol --database "$db" || code=$?
  echo "exit status $code"
  echo
done

echo "════ audit log"
verifier=$("$bin" audit key --new modelgate.demo/audit --out "$work/audit.key")
"$bin" audit checkpoint --key-file "$work/audit.key" --database "$db" --out "$work/checkpoint"
cat "$work/checkpoint"
"$bin" audit verify --database "$db" --checkpoint "$work/checkpoint" --verifier-key "$verifier"
echo
echo "repository: $repo"
echo "audit log:  $db"
