#!/bin/sh
# Stand-in for the code host's API: `fetch-pr.sh REPO NUMBER` prints the pull request as JSON.
repo=${1:?usage: fetch-pr.sh REPO NUMBER} pr=${2:?usage: fetch-pr.sh REPO NUMBER}
printf '{"title": "Retry webhooks with backoff (#%s)", "author": "dana", "files": ["src/webhooks.rs", "tests/webhooks.rs"], "risk": "low", "repo": "%s"}\n' "$pr" "$repo"
