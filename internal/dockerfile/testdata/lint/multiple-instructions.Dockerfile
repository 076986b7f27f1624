FROM busybox
CMD ["a"]
ENTRYPOINT ["b"]
CMD ["c"]
FROM busybox
CMD ["d"]
