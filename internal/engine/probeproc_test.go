package engine

import (
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// A /proc/net/tcp and tcp6 as Linux writes them: 8080 on any address,
// 8081 on 127.0.0.1, 8082 on 172.17.0.5, 8083 on :: and 8084 on ::1; an
// established connection on 8085 listens on nothing.
const (
	procTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 2 1 0000000000000000 100 0 0 10 0
   2: 050011AC:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 3 1 0000000000000000 100 0 0 10 0
   3: 050011AC:1F95 020011AC:D431 01 00000000:00000000 00:00000000 00000000 65534        0 4 1 0000000000000000 20 4 30 10 -1
`
	procTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F94 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6 1 0000000000000000 100 0 0 10 0
`
)

func TestListeners(t *testing.T) {
	got := listeners([]byte(procTCP))
	for k, v := range listeners([]byte(procTCP6)) {
		got[k] = append(got[k], v...)
	}
	want := map[int]string{8080: "0.0.0.0", 8081: "127.0.0.1", 8082: "172.17.0.5", 8083: "::", 8084: "::1"}
	if len(got) != len(want) {
		t.Errorf("listeners = %v, want %v", got, want)
	}
	for port, addr := range want {
		if len(got[port]) != 1 || got[port][0] != netip.MustParseAddr(addr) {
			t.Errorf("port %d listens on %v, want %s", port, got[port], addr)
		}
	}
	if _, ok := procAddr("0100007"); ok {
		t.Error("procAddr took 7 hex digits")
	}
}

// TestProbePortsFromProcAgreesWithTheProbeContainer: on an engine of this
// host the ports are read from /proc (no container), and say what the
// probe container finds: the port on any address open, the one on
// localhost only and the one nobody listens on closed.
func TestProbePortsFromProcAgreesWithTheProbeContainer(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	id := uniqueID(t)
	image := buildImage(t, e, id, id+":test", map[string]string{"rootfs/www/index.html": "hello\n"})
	server := start(t, e, id, pipeline.ContainerSpec{
		Image: image, Cmd: []string{"sh", "-c", "httpd -p 8080 -h /www && httpd -f -p 127.0.0.1:8081 -h /www"},
	})
	ports := []int{8080, 8081, 8082}
	var open []int
	var ok bool
	var err error
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if open, ok, err = e.probeProc(t.Context(), server, ports); err != nil || !ok || len(open) > 0 {
			break
		}
	}
	if os.Getenv("CI") == "true" && !ok {
		t.Fatalf("the ports of a container of this host's engine were not read from /proc (err %v)", err)
	}
	if ok && (err != nil || !slices.Equal(open, []int{8080})) {
		t.Errorf("probeProc = %v, %v; want [8080]", open, err)
	}
	time.Sleep(200 * time.Millisecond) // 8081 had time too
	if open, err := e.probeFromContainer(t.Context(), server, ports); err != nil || !slices.Equal(open, []int{8080}) {
		t.Errorf("probeFromContainer = %v, %v; want [8080]", open, err)
	}
	if open, ok, err := e.probeProc(t.Context(), server, ports); ok && (err != nil || !slices.Equal(open, []int{8080})) {
		t.Errorf("probeProc after = %v, %v; want [8080]", open, err)
	}

	// A container that has exited is an error, as the container's is.
	gone := start(t, e, id, pipeline.ContainerSpec{Image: image, Cmd: []string{"true"}})
	if _, err := e.WaitContainer(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	if open, _, err := e.probeProc(t.Context(), gone, ports); err == nil {
		t.Errorf("probeProc of an exited container = %v, nil; want an error", open)
	}
}
