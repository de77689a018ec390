#!/usr/bin/env bash
# Installs from Debian's packages what the test suite needs beyond Python:
# rabbitmq-server for the broker tests. Only as root with apt-get; otherwise
# it says what is missing and the tests that need it skip with that reason.
set -u
missing=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null \
  || missing+=(rabbitmq-server)
for extra in "$@"; do
  command -v "$extra" >/dev/null || missing+=("$extra")
done
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
