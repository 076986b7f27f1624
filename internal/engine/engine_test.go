package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestNewWithoutEngine(t *testing.T) {
	_, err := New(t.Context(), Options{Host: "unix:///nonexistent.sock"})
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("New error = %v, want ErrNoEngine", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"no container engine at unix:///nonexistent.sock: ",
		"apt-get install -y docker.io",
		"DOCKER_HOST",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one paragraph:\n%s", msg)
	}
}
