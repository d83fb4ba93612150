# Helpers shared by the deploy scripts. Sourced, not run.
# shellcheck shell=bash

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

info() {
  printf '==> %s\n' "$*" >&2
}

# need TOOL HOW-TO-INSTALL: stop with a clear message when TOOL is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed (or not on PATH). $2"
}

# need_env NAME...: stop naming every required variable that is unset or empty.
need_env() {
  local name missing=()
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || missing+=("$name")
  done
  if ((${#missing[@]})); then
    die "missing environment variable(s): ${missing[*]}"
  fi
}
