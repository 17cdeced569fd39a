#!/bin/sh
# The compensation of merge.sh: reverts the merge of the pull request.
echo "reverted PR #${2:?usage: revert.sh REPO NUMBER} in ${1}" >&2
