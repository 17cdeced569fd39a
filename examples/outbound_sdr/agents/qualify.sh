#!/bin/sh
# Stand-in for a qualification agent: scores the lead from the research summary
# it finds in the prompt on stdin.
prompt=$(cat)
case "$prompt" in
  *engineers*) tier=warm score=72 reason="active tooling evaluation" ;;
  *) tier=cold score=35 reason="no buying signal" ;;
esac
printf '{"tier": "%s", "score": %s, "reasons": ["%s", "fits the ideal customer profile"]}\n' "$tier" "$score" "$reason"
