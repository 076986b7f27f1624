package index

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/pipeline"
)

// historyCases lists testdata/history: each folder is the index.d of
// CentOS/container-index at one commit (see its README.md).
func historyCases(t *testing.T) []string {
	t.Helper()
	des, err := os.ReadDir("testdata/history")
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, de := range des {
		if de.IsDir() {
			cases = append(cases, de.Name())
		}
	}
	if len(cases) < 3 {
		t.Fatalf("only %d snapshots in testdata/history, want 3", len(cases))
	}
	return cases
}

// TestHistoryGolden loads real snapshots of the cccp index from 2016 to
// 2023: each gives exactly the diagnostics and projects of its golden file.
func TestHistoryGolden(t *testing.T) {
	for _, name := range historyCases(t) {
		t.Run(name, func(t *testing.T) {
			res, err := Load(filepath.Join("testdata/history", name))
			if err != nil {
				t.Fatal(err)
			}
			got := render(res)
			golden := filepath.Join("testdata/history", name+".golden")
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

// TestHistorySnapshots checks what each snapshot is kept for, whatever the
// golden files say.
func TestHistorySnapshots(t *testing.T) {
	load := func(t *testing.T, name string) *Result {
		t.Helper()
		res, err := Load(filepath.Join("testdata/history", name))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Run("2016 template is skipped", func(t *testing.T) {
		res := load(t, "2016-12-30-cc810ce")
		if res.HasErrors() || res.Files != 15 {
			t.Errorf("got %d files, errors %v; want 15 files (index_template.yml skipped), none", res.Files, res.Errors())
		}
	})
	t.Run("2018 tag 4.7+pcp fails its entry only", func(t *testing.T) {
		res := load(t, "2018-03-06-9358ae0")
		errs := res.Errors()
		if len(errs) != 1 || filepath.Base(errs[0].File) != "mattermost.yaml" {
			t.Fatalf("errors %v, want one, in mattermost.yaml", errs)
		}
		for _, p := range res.Projects {
			if p.AppID == "mattermost" && p.Tag == "4.7+pcp" {
				t.Errorf("the entry with tag 4.7+pcp was kept")
			}
		}
		if n := countApp(res.Projects, "mattermost"); n == 0 {
			t.Errorf("no mattermost project kept: the bad tag took the file's other entries with it")
		}
	})
	t.Run("2023 centos/centos:7 depends on itself", func(t *testing.T) {
		res := load(t, "2023-01-10-aa5fad5")
		if res.HasErrors() {
			t.Fatalf("errors %v, want none", res.Errors())
		}
		var base *pipeline.Project
		for i, p := range res.Projects {
			if p.Key() == "centos/centos:7" {
				base = &res.Projects[i]
			}
		}
		if base == nil {
			t.Fatal("centos/centos:7 is not among the projects")
		}
		if len(base.DependsOn) != 0 {
			t.Errorf("centos/centos:7 depends on %v, want nothing (the self-reference dropped)", base.DependsOn)
		}
		order, cycles := pipeline.Order(res.Projects)
		if len(cycles) > 0 || len(order) != len(res.Projects) {
			t.Errorf("Order: %d of %d projects ordered, cycles %v", len(order), len(res.Projects), cycles)
		}
	})
}

func countApp(ps []pipeline.Project, app string) int {
	n := 0
	for _, p := range ps {
		if p.AppID == app {
			n++
		}
	}
	return n
}
