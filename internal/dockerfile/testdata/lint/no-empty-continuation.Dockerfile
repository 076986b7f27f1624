FROM busybox
RUN echo one \

    two
RUN echo three \
    four
