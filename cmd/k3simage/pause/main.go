// Command pause is the k3s node's pause image (the sandbox container each
// pod's namespaces hang on), made locally by scripts/k3s.sh since no
// registry can be reached: it sleeps until SIGTERM or SIGINT, reaping the
// children it inherits as the pod's init.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
