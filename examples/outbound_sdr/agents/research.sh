#!/bin/sh
# Stand-in for a research agent: the prompt arrives on stdin, the answer is
# JSON on stdout. Deterministic so the example runs offline; "Initech" is the
# small deal that skips the manager approval.
prompt=$(cat)
company=$(printf '%s\n' "$prompt" | sed -n 's/^Research \([^;]*\);.*/\1/p')
case "$prompt" in
  *Initech*) value=12000 ;;
  *) value=85000 ;;
esac
printf '{"deal_value": %s, "summary": "%s is evaluating workflow tooling for 40 engineers", "industry": "software", "cost_usd": 0.03}\n' \
  "$value" "${company:-The company}"
