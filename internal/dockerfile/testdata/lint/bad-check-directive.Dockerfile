# check=whatever
FROM busybox
