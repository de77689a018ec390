#!/usr/bin/env bash
# Installs from Debian's packages what the test suite needs beyond Python:
# rabbitmq-server (broker tests), chromium and a CJK font (browser test), wrk
# (the benchmark and its smoke test), nginx (the proxy test), promtool (the
# alert rules' check), redis-tools (redis-cli, for the Cluster helper) and
# iproute2 (network namespaces for the several-hosts test).
# Only as root with apt-get; otherwise it says what is missing, and the tests
# that need it skip with that reason.
set -u
missing=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null \
  || missing+=(rabbitmq-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || missing+=(fonts-wqy-zenhei)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
command -v promtool >/dev/null || missing+=(prometheus)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system packages not installed (need root and apt-get): ${missing[*]}" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null \
  && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || echo "could not install: ${missing[*]}" >&2
exit 0
