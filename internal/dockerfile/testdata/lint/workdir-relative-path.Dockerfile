FROM busybox
RUN true
WORKDIR app
WORKDIR sub
