package cst

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestSegments: a chain's output is split at its markers whatever the
// chunks the engine delivers, a step's output keeps its own last newline
// or its lack of one, and a chain cut short keeps what its step wrote.
func TestSegments(t *testing.T) {
	const token = "hoist-step-0123"
	stream := "one\n\n" + token + " 0\n" + "two, no newline\n" + token + " 7\n" + "\n\n" + token + " x\n" + "tail"
	for _, chunk := range []int{1, 3, 7, len(stream)} {
		var a, b, c, d bytes.Buffer
		s := newSegments(token, &a, &b, &c, &d)
		for i := 0; i < len(stream); i += chunk {
			s.Write([]byte(stream[i:min(i+chunk, len(stream))]))
		}
		s.flush()
		if a.String() != "one\n" || b.String() != "two, no newline" || c.String() != "\n" || d.String() != "tail" {
			t.Errorf("chunks of %d: segments %q %q %q %q", chunk, a.String(), b.String(), c.String(), d.String())
		}
		if strings.Join(s.codes, ",") != "0,7,x" {
			t.Errorf("chunks of %d: codes %v, want 0,7,x", chunk, s.codes)
		}
	}
}

// TestChain: a test with setup commands runs them, the command and its
// teardowns in one container (no commit), each step in a subshell of its
// own, with the command's output exactly as it wrote it; an image without
// a shell gets a clear message.
func TestChain(t *testing.T) {
	v := setup(t)
	r, leftovers := runner(t, v)
	f, err := Parse("chain.cst.yaml", []byte(`schemaVersion: 2.0.0
commandTests:
  - name: a setup's cd and variables stay in its step
    setup: [[sh, -c, 'cd /tmp; X=1; export Y=2; echo from-setup > /tmp/f; printf partial']]
    command: sh
    args: [-c, 'pwd; env; cat /tmp/f']
    expectedOutput: ['^/app\n', 'from-setup\n$']
    excludedOutput: ['(?m)^Y=', hoist-step, partial]
    excludedError: [hoist-step]
  - name: output without a last newline is exact
    setup: [['true']]
    command: printf
    args: ['a\nb']
    expectedOutput: ['^a\nb$']
  - name: stderr is apart
    setup: [['true']]
    command: sh
    args: [-c, 'echo out; echo err >&2; exit 4']
    exitCode: 4
    expectedOutput: ['^out\n$']
    expectedError: ['^err\n$']
  - name: command not in the image after a setup
    setup: [['true']]
    command: /no/such
  - name: teardown sees the setup's files
    setup: [[sh, -c, 'echo kept > /tmp/t']]
    command: 'true'
    teardown: [[cat, /tmp/t], [sh, -c, 'exit 5']]
`))
	if err != nil {
		t.Fatal(err)
	}
	img := v.images["main"]
	var log bytes.Buffer
	res := r.Run(t.Context(), f, img.ref, img.fsys, img.cfg, &log)
	checkResults(t, "chain.cst.yaml", res, map[string]string{
		"a setup's cd and variables stay in its step": "pass",
		"output without a last newline is exact":      "pass",
		"stderr is apart":                             "pass",
		"command not in the image after a setup":      "fail | the command /no/such did not run: /no/such is not in the image, or not executable",
		"teardown sees the setup's files":             "pass",
	})
	for _, s := range []string{"setup 1: sh -c 'cd /tmp; X=1; export Y=2; echo from-setup > /tmp/f; printf partial'\npartial\n", "teardown 1: cat /tmp/t\nkept\n", "teardown 2 exited 5 (the result stands)"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("the log lacks %q:\n%s", s, log.String())
		}
	}

	nosh := v.images["nosh"]
	f, err = Parse("nosh.cst.yaml", []byte("schemaVersion: 2.0.0\ncommandTests:\n  - name: setup\n    setup: [[/bin/busybox, touch, /x]]\n    command: /bin/busybox\n    args: [true]\n"))
	if err != nil {
		t.Fatal(err)
	}
	res = r.Run(t.Context(), f, nosh.ref, nosh.fsys, nosh.cfg, &log)
	if len(res) != 1 || res[0].Status != pipeline.CheckFail || !strings.Contains(res[0].Detail, "the test has setup commands, which Hoist runs before the command in the same container through the image's /bin/sh, and the image has none") {
		t.Errorf("no shell: %+v", res)
	}
	leftovers()
}
