package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContainerOutput copies the container's output to stdout and stderr.
// Kubernetes keeps one log of a container's stdout and stderr interleaved
// (the API splits them only with the alpha feature
// PodLogsQuerySplitStreams), so a container whose whole command
// StartContainer knew writes its stderr to a file (splitStderr), which
// comes after the log; for the others, everything goes to stdout and
// nothing to stderr.
func (x *Executor) ContainerOutput(ctx context.Context, id string, stdout, stderr io.Writer, follow bool) error {
	if err := x.logs(ctx, id, mainContainer, follow, orDiscard(stdout)); err != nil {
		return fmt.Errorf("reading output of container %s: %w", id, err)
	}
	p, err := x.cs.CoreV1().Pods(x.ns).Get(ctx, id, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading output of container %s: %w", id, err)
	}
	if p.Annotations[annotationStderr] == "" {
		return nil
	}
	var msg bytes.Buffer
	code, err := x.exec(ctx, id, keeper, []string{"sh", "-c", `[ ! -e "$0" ] || cat "$0"`, stderrFile}, nil, orDiscard(stderr), &msg)
	if err == nil && code != 0 {
		err = fmt.Errorf("cat exited with status %d: %s", code, strings.TrimSpace(msg.String()))
	}
	if err != nil {
		return fmt.Errorf("reading the stderr of container %s: %w", id, err)
	}
	return nil
}

// The volume a container's stderr goes to, and the file.
const (
	volOutput  = "output"
	outputDir  = "/.hoist-output"
	stderrFile = outputDir + "/stderr"
	// annotationStderr marks a pod whose stderr is in stderrFile.
	annotationStderr = "org.hoistci.stderr"
)

// stderrWrapper runs its arguments with stderr to stderrFile, in the
// toolbox's busybox: the command is looked up in $PATH here, as the
// runtime would (busybox's sh would run its own applets first), and
// exec'd, so that it is the container's PID 1 as without the wrapper.
const stderrWrapper = `c=$1; shift
case $c in
*/*) ;;
*)	f=; IFS=:
	for d in $PATH; do [ -f "$d/$c" ] && [ -x "$d/$c" ] && { f=$d/$c; break; }; done
	unset IFS
	[ -n "$f" ] || { echo "$c: executable file not found in \$PATH" >>` + stderrFile + `; exit 127; }
	c=$f;;
esac
exec "$c" "$@" 2>>` + stderrFile + `
`

// splitStderr makes main of pod write its stderr to a file the keeper
// reads (ContainerOutput), for a command that was given in full: an
// init container puts the toolbox's busybox in place and runs it.
func (x *Executor) splitStderr(pod *corev1.Pod, main, keep *corev1.Container) {
	argv := append(append([]string(nil), main.Command...), main.Args...)
	main.Command = append(literal([]string{hoistMount + "/busybox", "sh", "-c", stderrWrapper, "hoist"}), argv...)
	main.Args = nil
	main.VolumeMounts = append(main.VolumeMounts,
		corev1.VolumeMount{Name: volHoist, MountPath: hoistMount, ReadOnly: true},
		corev1.VolumeMount{Name: volOutput, MountPath: outputDir})
	keep.VolumeMounts = append(keep.VolumeMounts, corev1.VolumeMount{Name: volOutput, MountPath: outputDir, ReadOnly: true})
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: volOutput, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	pod.Spec.InitContainers = append(pod.Spec.InitContainers, x.toolsContainer())
	pod.Annotations[annotationStderr] = stderrFile
}
