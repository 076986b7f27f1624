package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// addBuilds stores n finished builds of key, numbered after its last,
// failed when failed.
func (e *apiEnv) addBuilds(key string, n int, failed bool) {
	e.t.Helper()
	for range n {
		b := pipeline.Build{Project: key, Status: pipeline.StatusSucceeded, Cause: "push", Created: time.Now(), Finished: time.Now()}
		if failed {
			b.Status, b.FailedStage, b.Reason = pipeline.StatusFailed, pipeline.StageBuild, "exit 1\nmore"
		}
		if err := e.store.CreateBuild(context.Background(), &b); err != nil {
			e.t.Fatal(err)
		}
	}
}

// apiPage is one page of a list in the API.
type apiPage struct {
	Builds   []buildJSON   `json:"builds"`
	Projects []projectJSON `json:"projects"`
	Next     *string       `json:"next"`
}

// getPage reads one page at path, and the next page's path from its Link
// header ("" for none).
func (e *apiEnv) getPage(path string) (apiPage, string) {
	e.t.Helper()
	resp := e.send("GET", path, "", anon)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s = %s", path, resp.Status)
	}
	var p apiPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	link := resp.Header.Get("Link")
	if link == "" {
		if p.Next != nil {
			e.t.Errorf("GET %s: next %q but no Link header", path, *p.Next)
		}
		return p, ""
	}
	m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(link)
	if m == nil {
		e.t.Fatalf("GET %s: Link %q, want <URL>; rel=\"next\"", path, link)
	}
	if p.Next == nil {
		e.t.Errorf("GET %s: Link %q but no next in the body", path, link)
	}
	return p, m[1]
}

func TestAPIListBuildsPages(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	e.putProject(testProject("ns", "web"))
	e.addBuilds("ns/web:latest", 7, false)

	var got [][]int
	path := "/api/v1/projects/ns/web/builds?limit=3"
	for path != "" && len(got) < 10 {
		p, next := e.getPage(path)
		var nums []int
		for _, b := range p.Builds {
			nums = append(nums, b.Number)
		}
		got = append(got, nums)
		e.addBuilds("ns/web:latest", 1, false) // added between pages: in none of them
		path = next
	}
	if want := [][]int{{7, 6, 5}, {4, 3, 2}, {1}}; !slices.EqualFunc(want, got, slices.Equal) {
		t.Errorf("pages = %v, want %v", got, want)
	}
	p, next := e.getPage("/api/v1/projects/ns/web/builds?limit=2&before=5")
	if len(p.Builds) != 2 || p.Builds[0].Number != 4 || p.Next == nil || *p.Next != "3" ||
		next != "/api/v1/projects/ns/web/builds?before=3&limit=2" {
		t.Errorf("?limit=2&before=5 = %+v, next %q %q", p.Builds, deref(p.Next), next)
	}
	p, next = e.getPage("/api/v1/projects/ns/web/builds") // default limit 50: all 10, no next
	if len(p.Builds) != 10 || p.Builds[0].Number != 10 || next != "" {
		t.Errorf("default page = %d builds from #%d, next %q", len(p.Builds), p.Builds[0].Number, next)
	}
	e.apiErr("GET", "/api/v1/projects/ns/web/builds?before=x", "", anon, http.StatusBadRequest)
	e.apiErr("GET", "/api/v1/projects/ns/web/builds?before=-1", "", anon, http.StatusBadRequest)
}

func TestAPIListProjectsPages(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	for _, name := range []string{"e", "a", "d", "b", "c"} {
		e.putProject(testProject("ns", name))
	}
	e.addBuilds("ns/b:latest", 2, true)

	all, next := e.getPage("/api/v1/projects")
	if len(all.Projects) != 5 || next != "" || all.Next != nil {
		t.Fatalf("without limit: %d projects, next %q: want all 5 and no next", len(all.Projects), next)
	}
	var got []string
	path := "/api/v1/projects?limit=2"
	for path != "" && len(got) < 10 {
		p, next := e.getPage(path)
		for _, pj := range p.Projects {
			got = append(got, pj.Key)
			if pj.Key == "ns/b:latest" && (pj.LastBuild == nil || pj.LastBuild.Number != 2) {
				t.Errorf("ns/b's last build = %+v, want #2", pj.LastBuild)
			}
		}
		if len(got) == 2 {
			e.putProject(testProject("ns", "a0")) // before the cursor: not seen
			e.putProject(testProject("ns", "c0")) // after it: seen once
		}
		path = next
	}
	if want := []string{"ns/a:latest", "ns/b:latest", "ns/c0:latest", "ns/c:latest", "ns/d:latest", "ns/e:latest"}; !slices.Equal(want, got) {
		t.Errorf("pages' projects = %v, want %v", got, want)
	}
	e.apiErr("GET", "/api/v1/projects?limit=x", "", anon, http.StatusBadRequest)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// buildLinks are the numbers of the build links on a page of key, in order.
func buildLinks(body, key string) []int {
	var out []int
	re := regexp.MustCompile(regexp.QuoteMeta("/p/"+projectPath(key)+"/builds/") + `(\d+)"`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

func TestWebProjectBuildPages(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	e.putProject(testProject("ns", "web"))
	e.addBuilds("ns/web:latest", buildsShown+5, false)

	status, body := e.do("GET", "/p/ns/web", "", anon)
	if status != http.StatusOK {
		t.Fatalf("GET /p/ns/web = %d", status)
	}
	page := string(body)
	links := buildLinks(page, "ns/web:latest")
	if len(links) != buildsShown || links[0] != buildsShown+5 || links[len(links)-1] != 6 {
		t.Errorf("first page links builds %v, want #%d down to #6", links, buildsShown+5)
	}
	if !strings.Contains(page, `href="/p/ns/web?before=6" rel="next"`) || strings.Contains(page, `rel="first"`) {
		t.Errorf("first page: want an older link to ?before=6 and no newest link:\n%s", pager(page))
	}

	status, body = e.do("GET", "/p/ns/web?before=6", "", anon)
	if status != http.StatusOK {
		t.Fatalf("GET /p/ns/web?before=6 = %d", status)
	}
	page = string(body)
	if links := buildLinks(page, "ns/web:latest"); !slices.Equal(links, []int{5, 4, 3, 2, 1}) {
		t.Errorf("second page links builds %v, want 5 to 1", links)
	}
	if strings.Contains(page, `rel="next"`) || !strings.Contains(page, `href="/p/ns/web" rel="first"`) {
		t.Errorf("last page: want a newest link and no older link:\n%s", pager(page))
	}
	if !strings.Contains(page, `hx-get="/p/ns/web?before=6"`) {
		t.Errorf("the live list of an older page does not reload that page")
	}

	// An old build is found by its number.
	if status, _ := e.do("GET", "/p/ns/web/builds/2", "", anon); status != http.StatusOK {
		t.Errorf("GET build #2 = %d", status)
	}
	if status, _ := e.do("GET", fmt.Sprintf("/p/ns/web/builds/%d", buildsShown+6), "", anon); status != http.StatusNotFound {
		t.Errorf("GET a build not made yet = %d, want 404", status)
	}
}

func TestWebFailuresPages(t *testing.T) {
	e := newAPIEnv(t, Options{PublicRead: true})
	n := failuresShown + 3
	for i := range n {
		p := e.putProject(testProject("ns", fmt.Sprintf("app%02d", i)))
		e.addBuilds(p.Key(), 1, true)
	}
	seen := map[string]int{}
	path, pages := "/failures", 0
	for path != "" && pages < 5 {
		status, body := e.do("GET", path, "", anon)
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, status)
		}
		pages++
		page := string(body)
		for _, m := range regexp.MustCompile(`class="name" href="/p/ns/(app\d+)"`).FindAllStringSubmatch(page, -1) {
			seen[m[1]]++
		}
		path = ""
		if m := regexp.MustCompile(`href="(/failures\?before=[^"]+)" rel="next"`).FindStringSubmatch(page); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if pages == 1 {
			// A failure newer than every listed one, after the first page:
			// on no later page.
			p := e.putProject(testProject("ns", "late"))
			e.addBuilds(p.Key(), 1, true)
		}
	}
	if pages != 2 || len(seen) != n {
		t.Errorf("%d pages listing %d projects, want 2 pages listing all %d", pages, len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s listed %d times", k, c)
		}
	}
}

// pager is the pager part of a page, for messages.
func pager(page string) string {
	if i := strings.Index(page, `class="pager"`); i >= 0 {
		return page[i:min(len(page), i+400)]
	}
	return "(no pager)"
}

// TestAPIProjectsListFollowsWrites: the whole list, kept encoded while
// the store's lists do not change, shows every write at once: a build's
// new status, a new project, a delivery; and a request that reads only
// some namespaces never gets the list kept for those that read all.
func TestAPIProjectsListFollowsWrites(t *testing.T) {
	e := newAPIEnv(t, Options{})
	ctx := context.Background()
	e.putProject(testProject("ns", "a"))
	b := pipeline.Build{Project: "ns/a:latest", Status: pipeline.StatusQueued}
	if err := e.store.CreateBuild(ctx, &b); err != nil {
		t.Fatal(err)
	}
	list := func(by authBy) map[string]projectJSON {
		t.Helper()
		var out struct{ Projects []projectJSON }
		e.json("GET", "/api/v1/projects", "", by, http.StatusOK, &out)
		m := map[string]projectJSON{}
		for _, p := range out.Projects {
			m[p.Key] = p
		}
		return m
	}
	if got := list(byToken); got["ns/a:latest"].LastBuild == nil || got["ns/a:latest"].LastBuild.Status != pipeline.StatusQueued {
		t.Fatalf("first list = %+v", got)
	}
	list(byToken) // kept
	b.Status = pipeline.StatusFailed
	if err := e.store.UpdateBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := list(byToken); got["ns/a:latest"].LastBuild.Status != pipeline.StatusFailed {
		t.Errorf("after the build failed, its status in the list = %s", got["ns/a:latest"].LastBuild.Status)
	}
	e.putProject(testProject("other", "b"))
	if got := list(byToken); len(got) != 2 {
		t.Errorf("after a project was added, the list has %d", len(got))
	}
	if err := e.store.RecordImage(ctx, pipeline.DeliveredImage{Image: "reg/ns/a:latest", Project: "ns/a:latest", Digest: "sha256:1", BuildID: b.ID, Delivered: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := list(byToken); got["ns/a:latest"].Delivered == nil {
		t.Errorf("after a delivery, the list shows none")
	}

	// bob reads only ns: the list kept for alice (an admin) is not his.
	bob := e.addUser("bob", false)
	webMust(t, e.store.CreateNamespace(ctx, "ns", bob.ID, time.Now()))
	status, body := e.doAs(bob, "GET", "/api/v1/projects", "")
	if status != http.StatusOK || !strings.Contains(body, `"ns/a:latest"`) || strings.Contains(body, `"other/b:latest"`) {
		t.Errorf("bob's list = %d %s, want ns/a only", status, body)
	}
}
