package runner

import (
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// TestLabelsHideCredentials: the image's source label is public (anyone
// who can pull reads it), so neither a password nor a token as user name
// may be in it.
func TestLabelsHideCredentials(t *testing.T) {
	for _, u := range []string{"https://user:s3cret@example.com/x.git", "https://s3cret@example.com/x.git"} {
		j := &job{project: pipeline.Project{AppID: "a", JobID: "b", Tag: "latest", GitURL: u}}
		if got := labels(j)["org.opencontainers.image.source"]; strings.Contains(got, "s3cret") || !strings.Contains(got, "example.com/x.git") {
			t.Errorf("source label of %s = %q", u, got)
		}
	}
}
