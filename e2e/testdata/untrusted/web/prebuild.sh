#!/bin/sh
# Makes the image's root filesystem from the sandbox's own busybox.
set -eu
mkdir -p rootfs/bin rootfs/tmp rootfs/etc
echo "web from an untrusted project" > rootfs/etc/image
cp /bin/busybox rootfs/bin/busybox
for applet in sh httpd; do ln -s busybox "rootfs/bin/$applet"; done
echo "rootfs made"
