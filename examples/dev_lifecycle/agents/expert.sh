#!/bin/sh
# Offline stand-in for every expert agent: `expert.sh ROLE` reads the prompt on
# stdin (also in $FLOW_PROMPT) and answers with the JSON its role's steps
# declare as their output.
role=${1:?usage: expert.sh ROLE}
cat >/dev/null
case "$role" in
  research)
    echo '{"ideas": ["extend the existing service", "a new microservice"], "recommendation": "extend the existing service behind a feature flag"}' ;;
  architecture)
    echo '{"tasks": [{"title": "add the table", "area": "database"}, {"title": "add the endpoint", "area": "backend"}, {"title": "add the settings page", "area": "frontend"}], "risks": ["migration on a large table"]}' ;;
  database)
    echo '{"tables": ["feature_flags"], "migration": "0042_feature_flags.sql"}' ;;
  api)
    echo '{"endpoints": ["GET /flags", "PUT /flags/{name}"]}' ;;
  backend)
    echo '{"files": ["src/flags.rs", "migrations/0042_feature_flags.sql"], "summary": "flag storage and endpoints"}' ;;
  frontend)
    echo '{"files": ["web/settings/Flags.tsx"], "summary": "settings page with one toggle per flag"}' ;;
  testing)
    echo '{"files": ["tests/flags.rs", "web/settings/Flags.test.tsx"], "cases": 14}' ;;
  security)
    echo '{"findings": [{"severity": "low", "title": "flag names are not length-limited"}], "verdict": "pass"}' ;;
  code_review)
    echo '{"comments": ["name the migration after the table"], "approved": true}' ;;
  monitoring)
    echo '{"summary": "error rate stable at 0.1%, p95 latency unchanged"}' ;;
  product)
    echo '{"improvements": ["bulk toggle", "audit log of flag changes"], "next_phase": "planning"}' ;;
  *)
    echo "expert.sh: unknown role $role" >&2; exit 2 ;;
esac
