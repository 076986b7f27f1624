package engine

import (
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// plainHTTPHook returns a request hook that adds tlsVerify=false to the
// engine's push and pull requests for registries Hoist reaches over plain
// HTTP: loopback hosts always, and the hosts in insecure (host:port or host
// alone), as in allowed. Docker decides this from its own configuration (and trusts
// loopback registries) and ignores the parameter; Podman's compatible
// service treats every registry as HTTPS unless it is told.
func plainHTTPHook(allowed map[string]bool) client.RequestHook {
	return func(req *http.Request) error {
		image := imageOfRequest(req)
		if image == "" {
			return nil
		}
		repo, err := name.NewRepository(image)
		if err != nil || !pipeline.PlainHTTP(repo.RegistryStr(), allowed) {
			return nil
		}
		q := req.URL.Query()
		q.Set("tlsVerify", "false")
		req.URL.RawQuery = q.Encode()
		return nil
	}
}

// imageOfRequest returns the image a push (POST /images/NAME/push) or pull
// (POST /images/create?fromImage=NAME) request names, "" for other requests.
func imageOfRequest(req *http.Request) string {
	if req.Method != http.MethodPost {
		return ""
	}
	p := req.URL.Path
	if strings.HasSuffix(p, "/images/create") {
		return req.URL.Query().Get("fromImage")
	}
	i := strings.Index(p, "/images/")
	if i < 0 || !strings.HasSuffix(p, "/push") {
		return ""
	}
	return strings.TrimSuffix(p[i+len("/images/"):], "/push")
}
