# check=skip=all
FROM busybox as Build
MAINTAINER x
CMD /bin/app
