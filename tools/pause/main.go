// pause: the sandbox ("infra") process of a pod on the test harness's node. It holds the pod's
// namespaces open by doing nothing: it sleeps until SIGTERM or SIGINT, and as PID 1 of a shared
// PID namespace it reaps every child that exits, so no zombie piles up. Our own code, built
// static (CGO_ENABLED=0) into a FROM-scratch image by tools/build-images.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("pause (node-attestor test harness)\n")
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			return
		case <-children:
			reap()
		}
	}
}

// reap collects every exited child without blocking (one SIGCHLD can stand for several).
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
