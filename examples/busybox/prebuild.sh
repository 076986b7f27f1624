#!/bin/sh
# Makes a root filesystem from Debian's static busybox (apt-get install
# busybox-static): /bin/busybox and a link for each of its applets. It runs
# on the host for a trusted project, and in Hoist's sandbox (whose toolbox is
# that same static busybox, without ldd) for an untrusted one.
set -eu
bb=
for d in $(echo "$PATH" | tr : ' ') /bin; do # not command -v: busybox's own sh answers "busybox"
  if [ -x "$d/busybox" ]; then bb=$d/busybox; break; fi
done
if [ -z "$bb" ]; then
  echo "a static busybox is needed: apt-get install busybox-static" >&2
  exit 1
fi
if command -v ldd >/dev/null 2>&1 && ! ldd "$bb" 2>&1 | grep -q 'not a dynamic'; then
  echo "$bb is linked dynamically; a static busybox is needed: apt-get install busybox-static" >&2
  exit 1
fi
rm -rf rootfs rootfs.tar
mkdir -p rootfs/bin rootfs/tmp rootfs/etc rootfs/www
cp "$bb" rootfs/bin/busybox
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > rootfs/etc/passwd
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> rootfs/etc/passwd
echo 'root:x:0:' > rootfs/etc/group
chmod 1777 rootfs/tmp
tar -C rootfs -cf rootfs.tar .
rm -rf rootfs
echo "rootfs.tar: $(wc -c < rootfs.tar) bytes, busybox from $bb"
