#!/bin/sh
# The compensation of deploy.sh.
[ "$1" = "--env" ] && [ -n "$2" ] || { echo "usage: rollback.sh --env ENV" >&2; exit 2; }
echo "rolled $2 back to the previous release" >&2
