package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// defaultServer is where the client commands look for hoist serve.
const defaultServer = "http://127.0.0.1:8080"

// client talks to a hoist server's API, with the token from HOIST_TOKEN.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// serverFlag adds --server to fs, defaulting to $HOIST_SERVER, then
// http://127.0.0.1:8080.
func serverFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("HOIST_SERVER")
	if def == "" {
		def = defaultServer
	}
	return fs.String("server", def, "URL of the hoist server (default $HOIST_SERVER, else "+defaultServer+"); the token is read from $HOIST_TOKEN")
}

func newClient(server string) (*client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want a URL like %s", server, defaultServer)
	}
	return &client{base: u, token: os.Getenv("HOIST_TOKEN"), http: &http.Client{}}, nil
}

// apiError is the API's error body: {"error":{"code","message","field"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Status == http.StatusUnauthorized {
		msg += " (set HOIST_TOKEN to a token from: hoist token create USER)"
	}
	return msg
}

// url is the server's URL for path, which may carry a query.
func (c *client) url(path string) string {
	return c.base.String() + path
}

// request sends method path with in as JSON (nil: no body) and returns
// the response when its status is 2xx; any other becomes an *apiError.
func (c *client) request(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the hoist server at %s (is hoist serve running? --server or HOIST_SERVER names it): %w", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct {
		Error *apiError `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &e) != nil || e.Error == nil {
		e.Error = &apiError{Message: strings.TrimSpace(string(b))}
	}
	e.Error.Status = resp.StatusCode
	return nil, e.Error
}

// call sends a request and decodes the JSON answer into out (nil: ignored).
func (c *client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

// apiBuild is a build as the API gives it.
type apiBuild struct {
	ID          int64              `json:"id"`
	Project     string             `json:"project"`
	Number      int                `json:"number"`
	Status      pipeline.Status    `json:"status"`
	Cause       string             `json:"cause"`
	Commit      string             `json:"commit"`
	FailedStage pipeline.StageName `json:"failed_stage"`
	Reason      string             `json:"reason"`
	Image       string             `json:"image"`
	Digest      string             `json:"digest"`
	Created     time.Time          `json:"created"`
	Started     time.Time          `json:"started"`
	Finished    time.Time          `json:"finished"`
	URL         string             `json:"url"`
}

// pageURL is the build's page on the server.
func (c *client) pageURL(b apiBuild) string {
	if strings.HasPrefix(b.URL, "http://") || strings.HasPrefix(b.URL, "https://") {
		return b.URL
	}
	return c.url(b.URL)
}

// projectPath is the API path of a project: /api/v1/projects/{ns}/{name},
// with ":tag" after the name unless the tag is latest, and "library" as
// the namespace of images without one.
func projectPath(ref pipeline.ImageRef) string {
	ns := ref.Namespace
	if ns == "" {
		ns = pipeline.LibraryNamespace
	}
	p := "/api/v1/projects/" + url.PathEscape(ns) + "/" + url.PathEscape(ref.Name)
	if ref.Tag != pipeline.DefaultTag {
		p += ":" + url.PathEscape(ref.Tag)
	}
	return p
}

// isStatus reports whether err is an API answer with status.
func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}
