#!/bin/sh
# Warms the build cache from one mirror. Set FLOW_EXAMPLE_DOWN=primary (or
# mirror) to make that mirror fail and watch one_success carry on.
mirror=${1:?usage: warm-cache.sh primary|mirror}
if [ "${FLOW_EXAMPLE_DOWN:-}" = "$mirror" ]; then
  echo "cache $mirror: unreachable" >&2
  exit 1
fi
echo "cache $mirror: warm"
