FROM busybox AS base
FROM base AS Builder
RUN true
