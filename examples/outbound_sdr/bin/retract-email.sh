#!/bin/sh
# The compensation of send-email.sh: runs when a run is compensated after the
# outreach went out.
[ "$1" = "--lead" ] && [ -n "$2" ] || { echo "retract-email: usage: retract-email.sh --lead ID" >&2; exit 2; }
echo "retract-email: follow-up cancelled and apology queued for lead $2" >&2
