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
# wait (with builtins only) until a fork works again.
n=0
until ( : ) 2>/dev/null || [ $n -ge 200000 ]; do n=$((n+1)); done
echo "allocating 2 GiB"
x=$(head -c 2147483648 /dev/zero | tr '\0' a)
echo "LEAK: allocated ${#x} bytes"
