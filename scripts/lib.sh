# Shared helpers for the project's scripts (sourced, not run).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# ensure_packages PKG... : installs missing Debian packages when root, otherwise names them and fails.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/triage-apt.log 2>&1; then
      apt-get update -q >/tmp/triage-apt-update.log 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/triage-apt.log 2>&1 \
        || { echo "error: apt-get install ${missing[*]} failed; see /tmp/triage-apt.log" >&2; return 1; }
    fi
  else
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "       install them with: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
}

ensure_dotnet() {
  if ! command -v dotnet >/dev/null; then
    echo "error: the .NET 10 SDK is required (dotnet not on PATH); see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
    return 1
  fi
  local major
  major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  if [ "${major:-0}" -lt 10 ]; then
    echo "error: the .NET 10 SDK is required (found $(dotnet --version))" >&2
    return 1
  fi
}
