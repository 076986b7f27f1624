FROM busybox AS app
RUN true
FROM busybox AS app
RUN true
