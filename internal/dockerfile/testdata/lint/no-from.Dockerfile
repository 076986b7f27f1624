ARG A=1
RUN true
