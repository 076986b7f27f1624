# check=skip=JSONArgsRecommended,MaintainerDeprecated
FROM busybox
MAINTAINER x
CMD /bin/app
ENV A 1
