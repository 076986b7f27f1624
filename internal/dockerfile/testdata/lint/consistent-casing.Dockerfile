FROM busybox
RUN true
workdir /app
COPY . .
