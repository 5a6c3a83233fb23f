#!/usr/bin/env bash
# The check action: modelgate check for each manifest, the evidence's tables in
# the job summary, the policies' verdict on it, and the evidence uploaded to
# the App with the job's OIDC token. It reads what a runner gives a step
# (GITHUB_WORKSPACE, GITHUB_EVENT_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
# RUNNER_TEMP, ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN) and the action's inputs
# (INPUT_*), so that it runs the same outside GitHub.
set -euo pipefail

manifests_in="${INPUT_MANIFESTS:-}"
base="${INPUT_BASE:-}"
config="${INPUT_CONFIG:-}"
inputs_in="${INPUT_INPUTS:-}"
upload="${INPUT_UPLOAD:-}"
app_url="${INPUT_APP_URL:-}"
audience="${INPUT_AUDIENCE:-}"
modelgate="${MODELGATE:-modelgate}"

fail() {
  echo "modelgate check: $*" >&2
  exit 2
}

# lines prints the non-empty lines of an input, trimmed.
lines() {
  printf '%s\n' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' || true
}

# md escapes text from the repository for a Markdown table cell.
md() {
  sed 's/[\\|*_`[]/\\&/g; s/]/\\]/g; s/</\&lt;/g; s/>/\&gt;/g'
}

command -v "$modelgate" >/dev/null || fail "modelgate is not on PATH: run modelgate/modelgate/actions/setup first"
command -v jq >/dev/null || fail "jq is not installed (GitHub's hosted runners have it)"
cd "${GITHUB_WORKSPACE:?GITHUB_WORKSPACE is not set}"
work="$(mktemp -d "${RUNNER_TEMP:?RUNNER_TEMP is not set}/modelgate-check.XXXXXX")"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}" "${GITHUB_STEP_SUMMARY:?GITHUB_STEP_SUMMARY is not set}"

# The base: the input, else the pull request's base, else what a push
# replaced (all zeros when it created the branch).
if [ -z "$base" ] && [ -f "${GITHUB_EVENT_PATH:-}" ]; then
  base="$(jq -r '.pull_request.base.sha // .before // ""' "$GITHUB_EVENT_PATH")"
  [[ "$base" =~ ^0+$ ]] && base=""
fi
if [ -n "$base" ] && ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  git fetch --quiet --no-tags --depth=1 origin "$base" 2>/dev/null ||
    fail "the base commit $base is not in the checkout and cannot be fetched: check out with fetch-depth: 0"
fi

# The manifests: those given, else those the change adds or modifies and those
# of the version folders whose files it changes.
mapfile -t manifests < <(lines "$manifests_in")
if [ "${#manifests[@]}" -eq 0 ]; then
  [ -n "$base" ] || fail "no manifests given and no base to find the changed ones against: set the input manifests, or base"
  mapfile -t manifests < <(
    git diff --name-only --no-renames --diff-filter=AM "$base" HEAD | while IFS= read -r f; do
      case "$f" in
      */model.yaml | */model.yml | */model.json | */model.cue | model.yaml | model.yml | model.json | model.cue) echo "$f" ;;
      models/*/*/*)
        dir="$(cut -d/ -f1-3 <<<"$f")"
        for name in model.yaml model.yml model.json model.cue; do
          if [ -f "$dir/$name" ]; then
            echo "$dir/$name"
            break
          fi
        done
        ;;
      esac
    done | sort -u
  )
fi
for m in "${manifests[@]}"; do
  [ -f "$m" ] || fail "$m: no such manifest in $GITHUB_WORKSPACE"
done

# The rules: the base's config and policies (a pull request's own could judge
# it more kindly), else those of the checkout when there is no base, else the
# defaults and the built-in policies alone.
policies="$work/base/.modelgate/policies"
mkdir -p "$policies"
config_args=()
if [ -n "$config" ]; then
  [ -f "$config" ] || fail "$config: no such config"
  config_args=(--config "$config")
elif [ -n "$base" ]; then
  if git cat-file -e "$base:.modelgate/config.yaml" 2>/dev/null; then
    git show "$base:.modelgate/config.yaml" >"$work/base/.modelgate/config.yaml"
    config_args=(--config "$work/base/.modelgate/config.yaml")
  fi
elif [ -f .modelgate/config.yaml ]; then
  config_args=(--config .modelgate/config.yaml)
fi
if [ -n "$base" ]; then
  if [ -n "$(git ls-tree -d "$base" .modelgate/policies)" ]; then
    git archive "$base" .modelgate/policies | tar -x -C "$work/base"
  fi
elif [ -d .modelgate/policies ]; then
  cp -R .modelgate/policies/. "$policies"
fi

input_args=()
while IFS= read -r line; do
  [[ "$line" == *=* ]] || fail "inputs: $line: expected URI=FILE"
  input_args+=(--input "$line")
done < <(lines "$inputs_in")

# Whether to upload: by default when the job may ask for an OIDC token.
token=false
[ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] && [ -n "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ] && token=true
case "$upload" in
'') upload="$token" ;;
true | false) ;;
*) fail "upload: $upload: expected true or false" ;;
esac
if [ "$upload" = true ]; then
  $token || fail "upload needs an OIDC token: give the job permissions: id-token: write"
  [ -n "$app_url" ] || fail "upload needs the App's URL: set the input app-url"
fi

# Evidence this step uploads is judged as the App judges an upload of a
# workflow it trusts; whether it trusts this one is the App's to say.
uploaded_args=()
judged="as an entry into the first stage, before approvals"
if [ "$upload" = true ]; then
  uploaded_args=(--uploaded)
  judged="$judged, on this evidence as uploaded"
fi

evidence_dir="$work/evidence"
mkdir -p "$evidence_dir"
evidence=()
allowed=true
{
  echo "## modelgate check"
  echo
  [ "${#manifests[@]}" -gt 0 ] || echo "No manifest changed: nothing to check."
} >>"$GITHUB_STEP_SUMMARY"
for m in "${manifests[@]}"; do
  ev="$evidence_dir/$(tr '/' '_' <<<"${m%.*}").json"
  echo "::group::modelgate check $m"
  "$modelgate" check "$m" --out "$ev" --summary "$work/summary.md" "${config_args[@]}" "${input_args[@]}"
  echo "::endgroup::"
  evidence+=("$ev")
  cat "$work/summary.md" >>"$GITHUB_STEP_SUMMARY"

  rc=0
  "$modelgate" policy eval --manifest "$m" --evidence "$ev" "${config_args[@]}" "${uploaded_args[@]}" --policies "$policies" --format json >"$work/decision.json" || rc=$?
  [ "$rc" -le 1 ] || fail "$m: the policies could not be evaluated"
  if [ "$rc" -eq 0 ]; then
    echo "**Policies: ✅ allowed** ($judged)" >>"$GITHUB_STEP_SUMMARY"
  else
    allowed=false
    {
      echo "**Policies: ❌ denied** ($judged)"
      echo
      echo "| Code | Message |"
      echo "|---|---|"
      jq -r '.deny[] | [.code, .msg] | map(gsub("\n"; " ")) | @tsv' "$work/decision.json" |
        md | awk -F '\t' '{ printf "| %s | %s |\n", $1, $2 }'
    } >>"$GITHUB_STEP_SUMMARY"
    echo "modelgate check: $m: the policies deny it:" >&2
    jq -r '.deny[] | "  \(.code)  \(.msg)"' "$work/decision.json" >&2
  fi
  echo >>"$GITHUB_STEP_SUMMARY"
done

# The outputs come before the upload, so that the evidence is kept as an
# artifact even when the App refuses it.
delimiter="modelgate_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
{
  echo "allowed=$allowed"
  echo "evidence-path<<$delimiter"
  [ "${#evidence[@]}" -eq 0 ] || printf '%s\n' "${evidence[@]}"
  echo "$delimiter"
} >>"$GITHUB_OUTPUT"

if [ "$upload" = true ]; then
  audience_args=()
  [ -z "$audience" ] || audience_args=(--audience "$audience")
  for i in "${!manifests[@]}"; do
    "$modelgate" evidence upload --url "$app_url" --manifest "${manifests[$i]}" --evidence "${evidence[$i]}" "${audience_args[@]}"
  done
fi
