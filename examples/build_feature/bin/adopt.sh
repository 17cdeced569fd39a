#!/bin/sh
# Adopts the best candidate: `adopt.sh NAME COUNT`.
printf '{"chosen": "%s", "considered": %s}\n' "${1:?usage: adopt.sh NAME COUNT}" "${2:-0}"
