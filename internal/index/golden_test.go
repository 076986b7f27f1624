package index

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/malformed")

// malformedCases lists testdata/malformed: every *.yaml file and every
// folder is one case, loaded with Load.
func malformedCases(t testing.TB) []string {
	t.Helper()
	des, err := os.ReadDir("testdata/malformed")
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, de := range des {
		if de.IsDir() || strings.HasSuffix(de.Name(), ".yaml") {
			cases = append(cases, filepath.Join("testdata/malformed", de.Name()))
		}
	}
	return cases
}

// render is what a golden file holds: every diagnostic, then the images
// of the projects that were kept.
func render(res *Result) string {
	var b strings.Builder
	for _, d := range res.Diagnostics {
		b.WriteString(d.String() + "\n")
	}
	var keys []string
	for _, p := range res.Projects {
		keys = append(keys, p.Key())
	}
	if len(keys) == 0 {
		keys = []string{"none"}
	}
	b.WriteString("projects: " + strings.Join(keys, ", ") + "\n")
	return b.String()
}

func TestMalformedGolden(t *testing.T) {
	cases := malformedCases(t)
	if len(cases) < 25 {
		t.Errorf("only %d malformed cases, want at least 25", len(cases))
	}
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c), ".yaml")
		t.Run(name, func(t *testing.T) {
			res, err := Load(c)
			if err != nil {
				t.Fatal(err)
			}
			got := render(res)
			golden := filepath.Join("testdata/malformed", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
