#!/bin/sh
# The pipeline's offline stand-in for real CI tools. The last argument of a
# step that may fail is the run's `fail` input: the piece it names fails.
set -u
what=$1; shift
case "$what" in
  checkout) echo "{\"sha\": \"4f2a9c1\"}" ;;
  lint) case "${1:-}" in
          lint) echo "lint: 3 warnings denied" >&2; exit 1 ;;
          lint:noconfig) echo "no lint configuration: nothing to check"; exit 78 ;;
        esac
        echo "lint clean" ;;
  test) os=$1 rust=$2 fail=${3:-}
        case "$fail" in
          "test:$os" | "test:$os-$rust") echo "test failed on $os ($rust)" >&2; exit 1 ;;
          test:*) sleep 1 ;; # another job fails: this one is still running then
        esac
        echo "tests passed on $os with $rust" ;;
  docs) echo "docs built on $1 for $2" ;;
  build) echo "built with $1" ;;
  tag) echo "tagged $1" ;;
  untag) echo "removed tag $1" ;;
  draft) echo "draft release for $1" ;;
  undraft) echo "deleted draft release for $1" ;;
  publish) [ "${1:-}" = publish ] && { echo "publish: registry refused the upload" >&2; exit 1; }; echo "published" ;;
  unpublish) echo "yanked the release" ;;
  triage) echo "filed the failing matrix jobs for triage" ;;
  status) echo "commit $1: CI $2, failed steps: $3" ;;
  *) echo "unknown task $what" >&2; exit 2 ;;
esac
