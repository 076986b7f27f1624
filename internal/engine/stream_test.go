package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeStreamCollapsesProgress(t *testing.T) {
	in := `{"status":"The push refers to repository [r/x]"}
{"status":"Preparing","progressDetail":{},"id":"abc"}
{"status":"Pushing","progressDetail":{"current":512,"total":2048},"progress":"[=>  ]","id":"abc"}
{"status":"Pushing","progressDetail":{"current":1024,"total":2048},"progress":"[==> ]","id":"abc"}
{"status":"Pushing","progressDetail":{"current":2048,"total":2048},"progress":"[===>]","id":"abc"}
{"status":"Pushed","progressDetail":{},"id":"abc"}
{"status":"test: digest: sha256:1 size: 528"}
{"progressDetail":{},"aux":{"Tag":"test","Digest":"sha256:1","Size":528}}
`
	var out strings.Builder
	var aux []string
	err := decodeStream(strings.NewReader(in), &out, func(m json.RawMessage) { aux = append(aux, string(m)) })
	if err != nil {
		t.Fatal(err)
	}
	want := "The push refers to repository [r/x]\nabc: Preparing\nabc: Pushing\nabc: Pushed\ntest: digest: sha256:1 size: 528\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{`{"Tag":"test","Digest":"sha256:1","Size":528}`}, aux); diff != "" {
		t.Errorf("aux (-want +got):\n%s", diff)
	}
}

func TestDecodeStreamError(t *testing.T) {
	in := `{"stream":"Step 2/2 : RUN false\n"}
{"stream":" ---\u003e Running in 1\n"}
{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}
{"stream":"never printed\n"}
`
	var out strings.Builder
	err := decodeStream(strings.NewReader(in), &out, nil)
	var ee *EngineError
	if !errors.As(err, &ee) || ee.Message != "The command '/bin/sh -c false' returned a non-zero code: 1" {
		t.Errorf("err = %v, want the engine's message", err)
	}
	if want := "Step 2/2 : RUN false\n ---> Running in 1\n"; out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
}

func TestDecodeStreamTruncated(t *testing.T) {
	if err := decodeStream(strings.NewReader(`{"stream":"x"`), nil, nil); err == nil {
		t.Error("truncated stream: no error")
	}
}

func TestLostImage(t *testing.T) {
	for err, want := range map[error]bool{
		&EngineError{Message: `unable to find image "sha256:620e5e8e"`}:                                                                                               true,
		fmt.Errorf("wrapped: %w", &EngineError{Message: "unable to find image \"x\""}):                                                                                true,
		&EngineError{Message: "checking if cached image exists from a previous build: getting top layer info: layer not known"}:                                       true,
		&EngineError{Message: "failed to get digest sha256:ffd3cc77: open /var/lib/docker/image/overlay2/imagedb/content/sha256/ffd3cc77: no such file or directory"}: true,
		&EngineError{Message: "No such image: sha256:03e17e910ddb44b948552fca43ff1231e678f4bf990eaa34181343dc625c3b43"}:                                               true,
		&EngineError{Message: "No such image: example.org/missing:1"}:                                                                                                 false,
		&EngineError{Message: "layer not known"}:                                                                                                                      false,
		&EngineError{Message: "The command '/bin/sh -c false' returned a non-zero code: 1"}:                                                                           false,
		errors.New(`unable to find image "x"`):                                                                                                                        false,
	} {
		if got := lostImage(err); got != want {
			t.Errorf("lostImage(%v) = %v, want %v", err, got, want)
		}
	}
}
