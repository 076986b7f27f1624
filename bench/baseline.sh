#!/bin/sh
# baseline.sh does by hand, with the git and docker CLIs, what `hoist run`
# does for one index entry: the baseline of benchmark (a) in bench/.
#
#   checkout  git clone --depth 1 of the branch
#   prebuild  the prebuild-script, run in the prebuild-context
#   build     docker build (classic builder) with the same context, target
#             file and OCI labels; docker push NAME:test
#   test      the image has a CMD or ENTRYPOINT; the container starts and
#             exits 0 within STAY_UP s (default 1) or is still up after it
#             (Hoist's "starts" check); the container is removed. With TEST_SCRIPT (a path in
#             GIT_PATH), that script instead, with IMAGE=NAME:test, in
#             GIT_PATH: the hand-run of benchmark (d), with no predefined
#             checks
#   deliver   docker tag + push NAME:rc, then NAME:DESIRED_TAG
#
# Everything comes from the environment (bench/ reads it from the index):
#   REPO BRANCH GIT_PATH TARGET_FILE BUILD_CONTEXT IMAGE TAG REGISTRY WORK
#   PREBUILD_SCRIPT PREBUILD_CONTEXT (both empty: no prebuild)
#   TEST_SCRIPT (empty: the start check above)
# IMAGE is NS/NAME, REGISTRY is HOST:PORT, WORK is an empty or missing folder.
set -eu

for v in REPO BRANCH GIT_PATH TARGET_FILE BUILD_CONTEXT IMAGE TAG REGISTRY WORK; do
  eval "val=\${$v:-}"
  if [ -z "$val" ]; then
    echo "baseline.sh: $v is not set (see the comment at the top of this script)" >&2
    exit 2
  fi
done
export DOCKER_BUILDKIT=0 # the classic builder, as Hoist uses through the API

name="$REGISTRY/$IMAGE"
src="$WORK/src"
cid=
trap '[ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT

# checkout
case "$REPO" in
  *://*) url=$REPO ;;
  *) url="file://$REPO" ;;
esac
git -c credential.interactive=never clone --depth 1 --single-branch --no-tags \
  --branch="$BRANCH" -- "$url" "$src"
commit=$(git -C "$src" rev-parse HEAD)

# prebuild
if [ -n "${PREBUILD_SCRIPT:-}" ]; then
  (cd "$src/$PREBUILD_CONTEXT" && /bin/sh "$src/$PREBUILD_SCRIPT")
fi

# build, push :test
ctx="$src/$GIT_PATH/$BUILD_CONTEXT"
docker build --force-rm \
  -f "$src/$GIT_PATH/$TARGET_FILE" \
  --label "org.opencontainers.image.source=$REPO" \
  --label "org.opencontainers.image.revision=$commit" \
  --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$name:test" "$ctx"
docker push "$name:test"

# test: the project's test-script, or a CMD or ENTRYPOINT and the
# container starts (exits 0 or stays up STAY_UP seconds, 1 as Hoist's
# "starts" window)
if [ -n "${TEST_SCRIPT:-}" ]; then
  (cd "$src/$GIT_PATH" && IMAGE="$name:test" /bin/sh "./$TEST_SCRIPT")
else
  cmd=$(docker image inspect -f '{{json .Config.Cmd}}{{json .Config.Entrypoint}}' "$name:test")
  if [ "$cmd" = "nullnull" ]; then
    echo "the image has neither CMD nor ENTRYPOINT" >&2
    exit 1
  fi
  cid=$(docker run -d "$name:test")
  if code=$(timeout "${STAY_UP:-1}" docker wait "$cid"); then
    docker logs "$cid"
    if [ "$code" != 0 ]; then
      echo "the container exited with status $code" >&2
      exit 1
    fi
    echo "exited 0"
  else
    echo "still running after ${STAY_UP:-1}s"
  fi
  docker rm -f "$cid" >/dev/null
  cid=
fi

# deliver: :rc, then the desired tag
docker tag "$name:test" "$name:rc"
docker push "$name:rc"
docker tag "$name:test" "$name:$TAG"
docker push "$name:$TAG"
rm -rf "$src" # as Hoist removes its workspace
echo "delivered $name:$TAG"
