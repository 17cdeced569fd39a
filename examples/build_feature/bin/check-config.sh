#!/bin/sh
# The invariant's check: prints "ok" while the limits file is present and valid JSON-ish.
if [ -f config/limits.json ] && grep -q '"max_parallel_agents"' config/limits.json; then
  echo ok
else
  echo "config/limits.json is missing or incomplete"
fi
