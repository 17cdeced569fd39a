#!/bin/sh
# Offline stand-in for the reviewer agent: reads the prompt on stdin and
# answers with the JSON the step that called it declares.
prompt=$(cat)
case "$prompt" in
  Summarise*)
    echo '{"text": "CI is green and the AI review approves with two minor comments."}' ;;
  *)
    echo '{"verdict": "approve", "comments": ["consider a test for the empty list", "rename tmp to retries"]}' ;;
esac
