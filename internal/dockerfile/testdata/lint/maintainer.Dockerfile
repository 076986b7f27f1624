FROM busybox
LABEL org.opencontainers.image.title=app
MAINTAINER Jane <jane@example.com>
