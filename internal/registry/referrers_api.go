package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifest is the largest manifest the referrers handler reads, as
// distribution limits them.
const maxManifest = 4 << 20

// manifestTypes are the Accept header of the handler's manifest reads.
var manifestTypes = strings.Join([]string{string(types.OCIManifestSchema1), string(types.OCIImageIndex),
	string(types.DockerManifestSchema2), string(types.DockerManifestList)}, ", ")

// referrersHandler adds the OCI 1.1 referrers API to distribution's app
// (next): GET /v2/<name>/referrers/<digest> answers from the subject's
// tag-schema fallback index, which PUTs and DELETEs of manifests with a
// subject keep up to date. Every other request goes to next untouched.
type referrersHandler struct {
	next http.Handler
	// mu serializes the updates of fallback indexes (read, change, write).
	mu sync.Mutex
}

// withReferrers puts the referrers API in front of distribution's app.
func withReferrers(next http.Handler) http.Handler { return &referrersHandler{next: next} }

// ServeHTTP implements http.Handler.
func (h *referrersHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, kind, ref, ok := splitV2(r.URL.Path)
	switch {
	case ok && kind == "referrers" && r.Method == http.MethodGet:
		h.list(w, r, repo, ref)
	case ok && kind == "manifests" && r.Method == http.MethodPut:
		h.put(w, r, repo)
	case ok && kind == "manifests" && r.Method == http.MethodDelete && strings.Contains(ref, ":"):
		h.delete(w, r, repo, ref)
	default:
		h.next.ServeHTTP(w, r)
	}
}

// splitV2 splits /v2/<name>/<kind>/<ref> at its last /referrers/ or
// /manifests/.
func splitV2(path string) (repo, kind, ref string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", "", "", false
	}
	for _, k := range []string{"referrers", "manifests"} {
		if i := strings.LastIndex(rest, "/"+k+"/"); i > 0 {
			ref = rest[i+len(k)+2:]
			if ref != "" && !strings.Contains(ref, "/") {
				return rest[:i], k, ref, true
			}
		}
	}
	return "", "", "", false
}

// list answers a referrers request: the subject's fallback index (an
// empty one when there is none), filtered by ?artifactType=.
func (h *referrersHandler) list(w http.ResponseWriter, r *http.Request, repo, ref string) {
	if _, err := name.NewRepository(repo); err != nil {
		writeError(w, http.StatusBadRequest, "NAME_INVALID", fmt.Sprintf("invalid repository name %q: %v", repo, err))
		return
	}
	subject, err := v1.NewHash(ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("invalid digest %q: %v", ref, err))
		return
	}
	im, rec := h.index(r, repo, subject)
	if rec != nil {
		rec.flush(w)
		return
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		kept := im.Manifests[:0]
		for _, d := range im.Manifests {
			if d.ArtifactType == at {
				kept = append(kept, d)
			}
		}
		im.Manifests = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	b, err := json.Marshal(im)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Content-Type", string(types.OCIImageIndex))
	w.Write(b)
}

// fallbackTag is the tag of subject's referrers index: sha256-<hex>.
func fallbackTag(subject v1.Hash) string { return subject.Algorithm + "-" + subject.Hex }

// index reads subject's fallback index from distribution, or returns an
// empty one when there is none. When distribution answers something else,
// rec holds its answer.
func (h *referrersHandler) index(r *http.Request, repo string, subject v1.Hash) (im v1.IndexManifest, rec *recorder) {
	im = v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	got := h.call(r, http.MethodGet, "/v2/"+repo+"/manifests/"+fallbackTag(subject),
		http.Header{"Accept": {string(types.OCIImageIndex)}}, nil)
	switch got.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return im, nil
	default:
		return im, got
	}
	var stored v1.IndexManifest
	if err := json.Unmarshal(got.body.Bytes(), &stored); err != nil || stored.MediaType != types.OCIImageIndex {
		rec := &recorder{}
		writeError(rec, http.StatusInternalServerError, "UNKNOWN",
			fmt.Sprintf("%s:%s is not an OCI image index of referrers (%v): delete that tag", repo, fallbackTag(subject), err))
		return im, rec
	}
	if stored.Manifests != nil {
		im.Manifests = stored.Manifests
	}
	return im, nil
}

// referring is what the handler reads of a manifest: its subject and what
// describes it in a referrers index.
type referring struct {
	MediaType    types.MediaType   `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       v1.Descriptor     `json:"config"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

// descriptor describes the manifest raw, with m read from it, in a
// referrers index: the artifact type is the config's media type when the
// manifest has none, as the spec says.
func (m referring) descriptor(raw []byte, contentType string) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := v1.Descriptor{MediaType: m.MediaType, Digest: h, Size: n, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if d.MediaType == "" {
		d.MediaType = types.MediaType(contentType)
	}
	if d.ArtifactType == "" {
		d.ArtifactType = string(m.Config.MediaType)
	}
	return d, nil
}

// put stores a manifest; when it has a subject, it adds it to the
// subject's fallback index before answering, with OCI-Subject.
func (h *referrersHandler) put(w http.ResponseWriter, r *http.Request, repo string) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxManifest+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading the manifest: "+err.Error())
		return
	}
	var m referring
	if len(raw) > maxManifest || json.Unmarshal(raw, &m) != nil || m.Subject == nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), r.Body))
		h.next.ServeHTTP(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := &recorder{}
	h.next.ServeHTTP(rec, r)
	if rec.status == http.StatusCreated {
		d, err := m.descriptor(raw, r.Header.Get("Content-Type"))
		if err == nil {
			err = h.update(r, repo, m.Subject.Digest, func(ds []v1.Descriptor) []v1.Descriptor {
				for _, have := range ds {
					if have.Digest == d.Digest {
						return ds
					}
				}
				return append(ds, d)
			})
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN",
				fmt.Sprintf("the manifest is stored but its subject's referrers index is not: %v; push it again", err))
			return
		}
		rec.header.Set("OCI-Subject", m.Subject.Digest.String())
	}
	rec.flush(w)
}

// delete deletes a manifest by digest; when it has a subject, it leaves
// the subject's fallback index too.
func (h *referrersHandler) delete(w http.ResponseWriter, r *http.Request, repo, ref string) {
	got := h.call(r, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, http.Header{"Accept": {manifestTypes}}, nil)
	var m referring
	if got.status != http.StatusOK || json.Unmarshal(got.body.Bytes(), &m) != nil || m.Subject == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := &recorder{}
	h.next.ServeHTTP(rec, r)
	if rec.status == http.StatusAccepted {
		err := h.update(r, repo, m.Subject.Digest, func(ds []v1.Descriptor) []v1.Descriptor {
			kept := ds[:0]
			for _, d := range ds {
				if d.Digest.String() != ref {
					kept = append(kept, d)
				}
			}
			return kept
		})
		if err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN",
				fmt.Sprintf("the manifest is deleted but its subject's referrers index still lists it: %v", err))
			return
		}
	}
	rec.flush(w)
}

// update rewrites subject's fallback index with change applied to its
// descriptors. The caller holds h.mu.
func (h *referrersHandler) update(r *http.Request, repo string, subject v1.Hash, change func([]v1.Descriptor) []v1.Descriptor) error {
	im, rec := h.index(r, repo, subject)
	if rec != nil {
		return fmt.Errorf("reading %s:%s: %s %s", repo, fallbackTag(subject), http.StatusText(rec.status), bytes.TrimSpace(rec.body.Bytes()))
	}
	before := len(im.Manifests)
	im.Manifests = change(im.Manifests)
	if len(im.Manifests) == before {
		return nil // nothing changed (the same artifact pushed again)
	}
	b, err := json.Marshal(im)
	if err != nil {
		return err
	}
	got := h.call(r, http.MethodPut, "/v2/"+repo+"/manifests/"+fallbackTag(subject),
		http.Header{"Content-Type": {string(types.OCIImageIndex)}}, b)
	if got.status != http.StatusCreated {
		return fmt.Errorf("writing %s:%s: %s %s", repo, fallbackTag(subject), http.StatusText(got.status), bytes.TrimSpace(got.body.Bytes()))
	}
	return nil
}

// call makes a request of distribution's app, in the context and with the
// host of the request r being served.
func (h *referrersHandler) call(r *http.Request, method, path string, header http.Header, body []byte) *recorder {
	req, err := http.NewRequestWithContext(r.Context(), method, path, bytes.NewReader(body))
	rec := &recorder{}
	if err != nil {
		writeError(rec, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return rec
	}
	req.Host, req.RemoteAddr = r.Host, r.RemoteAddr
	maps.Copy(req.Header, header)
	h.next.ServeHTTP(rec, req)
	return rec
}

// recorder keeps a response to look at before passing it on.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header {
	if rec.header == nil {
		rec.header = http.Header{}
	}
	return rec.header
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(p)
}

// flush writes the recorded response to w.
func (rec *recorder) flush(w http.ResponseWriter) {
	maps.Copy(w.Header(), rec.Header())
	rec.WriteHeader(http.StatusOK)
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

// writeError writes an error in the distribution-spec's format.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
}
