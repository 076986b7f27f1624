#!/bin/sh
# The image under test runs beside this script: it answers on
# $TARGET_HOST, on the port it EXPOSEs.
set -u
echo "testing $IMAGE on $TARGET_HOST:8080"
for i in 1 2 3 4 5 6 7 8 9 10; do
  if page=$(wget -qO- "http://$TARGET_HOST:8080/"); then
    echo "got: $page"
    [ "$page" = "hello from an untrusted project" ] && exit 0
    echo "unexpected page" >&2
    exit 1
  fi
  sleep 1
done
echo "nothing answered on $TARGET_HOST:8080" >&2
exit 1
