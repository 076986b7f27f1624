FROM busybox:1.36
ENTRYPOINT ["/bin/app"]
CMD /bin/app --serve
