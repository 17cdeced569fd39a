#!/bin/sh
# Offline stand-in for the planner agent: the prompt arrives on stdin; the
# answer is JSON on stdout. The API key comes from the `api_keys` secret set;
# a real agent would use it, this one only says whether it is there.
prompt=$(cat)
if [ -n "$MY_API_KEY" ]; then echo "planner: API key present" >&2; fi
case "$prompt" in
  *candidates*)
    echo '{"candidates": [{"name": "cache-layer", "confidence": 0.9, "quality_score": 0.8}, {"name": "rewrite", "confidence": 0.5, "quality_score": 0.9}, {"name": "quick-fix", "confidence": 0.95, "quality_score": 0.4}]}' ;;
  *"Implement this goal"*)
    echo '{"summary": "goal done", "cost_usd": 0.01}' ;;
  *)
    echo '{"goals": [{"description": "add the data model"}, {"description": "expose it over the API"}], "summary": "two goals: model, then API", "cost_usd": 0.04}' ;;
esac
