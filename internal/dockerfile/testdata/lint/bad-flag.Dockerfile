FROM busybox
COPY --chmod=bad a b
RUN --mount=type=nosuch true
