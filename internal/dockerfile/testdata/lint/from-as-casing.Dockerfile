FROM busybox AS build
FROM busybox as final
COPY --from=build /bin/sh /sh
