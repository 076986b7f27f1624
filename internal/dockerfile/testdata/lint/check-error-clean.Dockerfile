# check=error=true
FROM busybox
CMD ["/bin/app"]
