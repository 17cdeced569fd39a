#!/bin/sh
# Quality-gate check: `test.sh unit|e2e` runs one test suite.
# Set FLOW_EXAMPLE_FAIL_TESTS=1 to watch the gate's fix → test loop.
suite=${1:?usage: test.sh unit|e2e}
if [ "${FLOW_EXAMPLE_FAIL_TESTS:-0}" = 1 ]; then
  echo "$suite tests: 1 failed" >&2
  exit 1
fi
echo "$suite tests: all passed"
