#!/usr/bin/env bash
# Install strongroom and everything it needs on Debian/Ubuntu, then run the demo.
#   ./install.sh            system packages (sudo/root), a virtualenv in .venv, the demo
#                           (in-process, then through the token service)
#   SKIP_DEMO=1 ./install.sh   install only
set -euo pipefail
cd "$(dirname "$0")"

# softhsm2: only for tests and the benchmark, which compare behaviour and speed with it.
APT_PACKAGES=(build-essential python3-dev python3-venv opensc openssl libengine-pkcs11-openssl gnutls-bin openssh-client softhsm2 p11-kit p11-kit-modules)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "==> apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> $PYTHON -m venv .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> pip install -e '.[test,lint]' (builds libstrongroom.so)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,lint]'

echo "==> module: $(.venv/bin/strongroom module-path)"
echo "==> client module: $(.venv/bin/strongroom module-path --client)"
if [ -z "${SKIP_DEMO:-}" ]; then
  .venv/bin/strongroom demo               # the embedded default: the module in pkcs11-tool
  .venv/bin/strongroom demo --service     # the same through the token service and the client module
fi
