#!/bin/sh
# Stand-in for the implementation step: `implement.sh --goals N --summary TEXT`.
goals="" summary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --goals) goals=$2; shift 2 ;;
    --summary) summary=$2; shift 2 ;;
    *) echo "implement: unknown argument $1" >&2; exit 2 ;;
  esac
done
echo "implement: $goals goals ($summary)" >&2
echo '{"changed": ["src/model.rs", "src/api.rs"]}'
