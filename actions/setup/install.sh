#!/usr/bin/env bash
# Builds modelgate from the source this action was fetched with, so that the
# binary is the one at the action's ref, and puts it on PATH.
set -euo pipefail

src="$(cd "${GITHUB_ACTION_PATH:?}/../.." && pwd)"
bin="${RUNNER_TEMP:?}/modelgate/bin"
# An action is fetched without .git: its ref is the version. A local
# checkout (uses: ./actions/setup) describes itself.
version="${ACTION_REF:-}"
if [ -z "$version" ]; then
  version="$(git -C "$src" describe --tags --always --dirty 2>/dev/null || echo devel)"
fi
mkdir -p "$bin"
(cd "$src" && go build -trimpath -ldflags "-X main.version=$version" -o "$bin/modelgate" ./cmd/modelgate)
echo "$bin" >>"${GITHUB_PATH:?}"
"$bin/modelgate" --version
echo "version=$version" >>"${GITHUB_OUTPUT:?}"
