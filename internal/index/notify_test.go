package index

import "testing"

func TestNotifySuccessKey(t *testing.T) {
	res, err := Load("testdata/malformed/notify-success.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range res.Projects {
		got[p.Key()] = p.NotifySuccess
	}
	want := map[string]bool{"notify-success/web:latest": true, "notify-success/cache:latest": false}
	if len(got) != len(want) {
		t.Fatalf("projects %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: NotifySuccess = %v, want %v", k, got[k], v)
		}
	}
}
