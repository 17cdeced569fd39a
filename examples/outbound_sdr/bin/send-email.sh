#!/bin/sh
# Stand-in for the email sender: prints what a real sender would return and
# records the "sent" message on stderr, which the step log keeps.
lead="" to=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lead) lead=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    *) echo "send-email: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$lead" ] || { echo "send-email: --lead is required" >&2; exit 2; }
echo "send-email: outreach for lead $lead sent to ${to:-nobody}" >&2
printf '{"message_id": "msg-%s", "sent_at": "%s"}\n' "$lead" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
