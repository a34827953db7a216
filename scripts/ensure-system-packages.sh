#!/usr/bin/env bash
# Installs, with apt-get, the real servers and browser the test suite runs against when they
# are missing (a fresh machine). Nothing is started here: each test starts its own server on
# 127.0.0.1 and a free port, with its own data directory, and stops it afterwards.
set -euo pipefail

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start their own services where an init system runs; the tests start
# their own instances, so stop any the install started.
for svc in prometheus prometheus-alertmanager postgresql; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
