#!/bin/sh
# Quality-gate check: `test.sh unit|e2e` runs one test suite.
# Set FLOW_EXAMPLE_FAIL_TESTS=1, or start a run whose feature says
# "[failing tests]", to watch the gate's fix → test loop.
suite=${1:?usage: test.sh unit|e2e}
case "${FLOW_INPUT_FEATURE:-}" in
  *"[failing tests]"*) FLOW_EXAMPLE_FAIL_TESTS=1 ;;
esac
if [ "${FLOW_EXAMPLE_FAIL_TESTS:-0}" = 1 ]; then
  echo "$suite tests: 1 failed" >&2
  exit 1
fi
echo "$suite tests: all passed"
