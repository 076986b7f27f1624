#!/bin/sh
# A hostile prebuild script: a fork bomb, then 2 GiB of memory.
(
  i=0
  while [ $i -lt 400 ]; do sleep 120 & i=$((i+1)); done
  echo "LEAK: fork bomb: all $i processes started"
)
echo "fork bomb over"
kill -9 -1 2>/dev/null # the shell's builtin: no fork needed
wait
# The killed processes count against the limit until they are reaped:
# wait until the allocation's own shape (a command substitution of a
# pipeline of two) can fork again, not just one process: CI once saw one
# free slot end the wait and the allocation fail to fork.
n=0
until [ "$(head -c 1 /dev/zero 2>/dev/null | tr '\0' a 2>/dev/null)" = a ] 2>/dev/null || [ $n -ge 200000 ]; do n=$((n+1)); done
echo "allocating 2 GiB"
x=$(head -c 2147483648 /dev/zero | tr '\0' a)
echo "LEAK: allocated ${#x} bytes"
