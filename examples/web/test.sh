#!/bin/sh
# Starts the image under test ($IMAGE) and checks that it serves the page.
set -eu
cid=$(docker run -d -p 127.0.0.1::8080 "$IMAGE")
trap 'docker rm -f "$cid" >/dev/null' EXIT
port=$(docker port "$cid" 8080/tcp | head -1 | sed 's/.*://')
for i in 1 2 3 4 5 6 7 8 9 10; do
  if page=$(wget -q -O - "http://127.0.0.1:$port/" 2>/dev/null || busybox wget -q -O - "http://127.0.0.1:$port/" 2>/dev/null); then
    break
  fi
  sleep 0.5
done
echo "got: $page"
echo "$page" | grep -q 'delivered by Hoist'
echo "the page is served"
