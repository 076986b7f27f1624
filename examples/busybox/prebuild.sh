#!/bin/sh
# Makes a root filesystem from Debian's static busybox (apt-get install
# busybox-static): /bin/busybox and a link for each of its applets.
set -eu
bb=$(command -v busybox || true)
if [ -z "$bb" ] || ! ldd "$bb" 2>&1 | grep -q 'not a dynamic'; then
  echo "a static busybox is needed: apt-get install busybox-static" >&2
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
