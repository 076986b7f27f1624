#!/bin/sh
# Checks that the image under test ($IMAGE) serves the page. Beside it (a
# sandboxed project, or any project on the Kubernetes executor) it is
# already running on $TARGET_HOST; on the host, this script starts it.
set -eu
if [ -n "${TARGET_HOST:-}" ]; then
  url=http://$TARGET_HOST:8080/
else
  cid=$(docker run -d -p 127.0.0.1::8080 "$IMAGE")
  trap 'docker rm -f "$cid" >/dev/null' EXIT
  url=http://127.0.0.1:$(docker port "$cid" 8080/tcp | head -1 | sed 's/.*://')/
fi
page=
for i in 1 2 3 4 5 6 7 8 9 10; do
  if page=$(wget -q -O - "$url" 2>/dev/null || busybox wget -q -O - "$url" 2>/dev/null); then
    break
  fi
  sleep 0.5
done
echo "got: $page"
echo "$page" | grep -q 'delivered by Hoist'
echo "the page is served"
