FROM busybox
RUN echo été
LABEL x=ÿ
CMD x
