package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Podman's Docker-compatible service differs from Docker where Hoist
// notices:
//   - its compatible pull (POST /images/create) has no tlsVerify
//     parameter, so a loopback or insecure registry is pulled from through
//     its own API (POST /libpod/images/pull), which has;
//   - a push reports the digest only in a status line (see Push);
//   - its RepoDigests name the local manifest of every name an image has,
//     a digest no registry holds (see InspectImage);
//   - containers need explicit ulimits (see ulimits).

// isPodman reports whether the engine behind cli is Podman's service: its
// answer to a ping carries a Libpod-Api-Version header (every answer of
// its API does), which Docker's never has. Docker's /version would tell
// too, but dockerd runs `runc --version` and `docker-init --version` for
// each: 25 ms and two processes at every start of Hoist.
func isPodman(ctx context.Context, cli *client.Client) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://engine/_ping", nil)
	if err != nil {
		return false, err
	}
	hc := engineHTTP(cli)
	defer hc.CloseIdleConnections()
	res, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("pinging the engine: %w", err)
	}
	res.Body.Close()
	return res.Header.Get("Libpod-Api-Version") != "", nil
}

// engineHTTP returns a plain HTTP client that reaches the engine behind
// cli, for what the API client does not expose; close its idle
// connections when done.
func engineHTTP(cli *client.Client) *http.Client {
	dial := cli.Dialer()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
	}}
}

// libpodPull pulls ref through Podman's own API, over plain HTTP when the
// registry may be reached so, and copies its progress to log.
func (e *Engine) libpodPull(ctx context.Context, ref, auth string, log io.Writer) error {
	q := url.Values{}
	q.Set("reference", ref)
	if r, err := name.ParseReference(ref); err == nil && pipeline.PlainHTTP(r.Context().RegistryStr(), e.insecure) {
		q.Set("tlsVerify", "false")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://podman/v4.0.0/libpod/images/pull?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Registry-Auth", auth)
	hc := engineHTTP(e.cli)
	defer hc.CloseIdleConnections()
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return fmt.Errorf("the engine answered %s: %s", res.Status, strings.TrimSpace(string(body)))
	}
	// Its stream carries {"stream": …} progress and {"error": …} as the
	// compatible API's does.
	return decodeStream(res.Body, log, nil)
}
