#!/bin/sh
# Health of a deployed URL, as JSON.
url=${1:?usage: health.sh URL}
printf '{"status": "healthy", "error_rate": 0.001, "dashboard": "%s/_dashboard"}\n' "$url"
