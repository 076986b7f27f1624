#!/bin/sh
# scan-baseline.sh inventories an image by hand with the docker CLI and tar:
# the baseline of benchmark (c) in bench/, against `hoist scan`.
#
#   pull      docker pull REF (bench/ removed the local copy first)
#   export    docker save REF -o image.tar; tar -xf image.tar
#   layers    each layer in manifest.json's order: tar -tf to list it, then
#             tar -x of only the files an inventory reads (dpkg status,
#             Python *.dist-info/METADATA, npm node_modules/*/package.json,
#             executables in usr/local/bin), a later layer's copy winning
#   inventory dpkg-query --admindir (installed packages), Name/Version of
#             each METADATA, name/version of each package.json, and
#             go version -m of the executables
#
# It prints one line "inventory: dpkg N, pip N, npm N, go binaries N" last,
# which bench/ checks against what it planted in the image.
# Environment: REF (HOST:PORT/NS/NAME@DIGEST), WORK (an empty or missing
# folder, which it leaves behind for bench/ to remove).
set -eu

for v in REF WORK; do
  eval "val=\${$v:-}"
  if [ -z "$val" ]; then
    echo "scan-baseline.sh: $v is not set (see the comment at the top of this script)" >&2
    exit 2
  fi
done
mkdir -p "$WORK/image" "$WORK/root"

# pull, export
docker pull "$REF"
docker save "$REF" -o "$WORK/image.tar"
tar -xf "$WORK/image.tar" -C "$WORK/image"

# layers, bottom to top: ["abc/layer.tar","def/layer.tar"] in manifest.json
layers=$(sed -e 's/.*"Layers":\[\([^]]*\)\].*/\1/' -e 's/"//g' -e 's/,/ /g' "$WORK/image/manifest.json")
if [ -z "$layers" ]; then
  echo "no layers in $WORK/image/manifest.json" >&2
  exit 1
fi
want='^(\./)?(var/lib/dpkg/status|.*-packages/[^/]+\.dist-info/METADATA|(.*/)?node_modules/(@[^/]+/)?[^/@.][^/]*/package\.json|usr/local/bin/[^/]+)$'
for l in $layers; do
  tar -tf "$WORK/image/$l" >"$WORK/list"
  grep -E "$want" "$WORK/list" >"$WORK/want" || [ $? -eq 1 ] # 1: no match
  if [ -s "$WORK/want" ]; then
    tar -xf "$WORK/image/$l" -C "$WORK/root" -T "$WORK/want"
  fi
done

# inventory
out="$WORK/inventory.txt"
dpkg=0
if [ -f "$WORK/root/var/lib/dpkg/status" ]; then
  dpkg-query --admindir="$WORK/root/var/lib/dpkg" -W -f='${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\n' 2>/dev/null |
    grep '^ii ' >"$out.dpkg" || [ $? -eq 1 ]
  dpkg=$(wc -l <"$out.dpkg")
  sed 's/^ii */deb /' "$out.dpkg" >>"$out"
fi
pip=0
for f in $(find "$WORK/root" -path '*-packages/*.dist-info/METADATA'); do
  echo "pip $(sed -n 's/^Name: //p' "$f" | head -1) $(sed -n 's/^Version: //p' "$f" | head -1)" >>"$out"
  pip=$((pip + 1))
done
npm=0
for f in $(find "$WORK/root" -path '*/node_modules/*/package.json'); do
  echo "npm $(jq -r '.name + " " + .version' "$f")" >>"$out"
  npm=$((npm + 1))
done
gobin=0
for f in "$WORK/root"/usr/local/bin/*; do
  [ -f "$f" ] || continue
  if go version -m "$f" >>"$out" 2>/dev/null; then
    gobin=$((gobin + 1))
  fi
done
echo "inventory: dpkg $dpkg, pip $pip, npm $npm, go binaries $gobin"
