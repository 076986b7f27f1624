FROM busybox AS base
FROM busybox AS context
COPY --from=base /bin /bin
