#!/bin/sh
# One CI job: `ci.sh build|unit|lint`.
job=${1:?usage: ci.sh build|unit|lint}
echo "$job: ok"
