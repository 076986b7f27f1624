package scan

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"

	"github.com/hoistci/hoist/internal/pipeline"
)

// SBOMSpecVersion is the CycloneDX version of the SBOMs Hoist writes.
const SBOMSpecVersion = cdx.SpecVersion1_6

// LocationProperty names the component property that says where in the
// image a package was found (one per place).
const LocationProperty = "hoist:location"

// ImageRef is an image reference split into its parts.
type ImageRef struct {
	Registry   string // "127.0.0.1:5000", "" when the reference has none
	Repository string // "ns/name"
	Tag        string
	Digest     string
}

// ParseImageRef splits host/ns/name:tag@digest. A first segment with a
// dot or a colon, or "localhost", is a registry.
func ParseImageRef(ref string) ImageRef {
	var r ImageRef
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, r.Digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref, r.Tag = ref[:i], ref[i+1:]
	}
	if first, rest, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, ref = first, rest
	}
	r.Repository = ref
	return r
}

// ImagePURL is pkg:oci/<name>@<digest>?repository_url=<registry/repo>.
func ImagePURL(ref, digest string) string {
	r := ParseImageRef(ref)
	if digest == "" {
		digest = r.Digest
	}
	name := r.Repository
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	repo := r.Repository
	if r.Registry != "" {
		repo = r.Registry + "/" + repo
	}
	q := map[string]string{"repository_url": repo}
	if r.Tag != "" {
		q["tag"] = r.Tag
	}
	return packageurl.NewPackageURL("oci", "", strings.ToLower(name), digest, packageurl.QualifiersFromMap(q), "").ToString()
}

// BuildSBOM returns a CycloneDX JSON SBOM of the image ref (at digest)
// with one component per distinct package (by purl); the places a package
// was found are its hoist:location properties. now stamps it.
func BuildSBOM(ref, digest string, pkgs []pipeline.Package, now time.Time) ([]byte, error) {
	r := ParseImageRef(ref)
	if digest == "" {
		digest = r.Digest
	}
	name := r.Repository
	if r.Registry != "" {
		name = r.Registry + "/" + name
	}
	imagePURL := ImagePURL(ref, digest)
	bom := cdx.NewBOM()
	bom.SpecVersion = SBOMSpecVersion
	bom.SerialNumber = "urn:uuid:" + newUUID()
	bom.Metadata = &cdx.Metadata{
		Timestamp: now.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "hoist",
		}}},
		Component: &cdx.Component{
			BOMRef:     imagePURL,
			Type:       cdx.ComponentTypeContainer,
			Name:       name,
			Version:    digest,
			PackageURL: imagePURL,
		},
	}
	byRef := map[string]*cdx.Component{}
	var refs []string
	for _, p := range pkgs {
		ref := p.PURL
		if ref == "" {
			ref = p.Type + ":" + p.Name + "@" + p.Version
		}
		if c, ok := byRef[ref]; ok {
			addLocation(c, p.Location)
			continue
		}
		c := &cdx.Component{
			BOMRef:     ref,
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: p.PURL,
			Properties: &[]cdx.Property{{Name: "hoist:package-type", Value: p.Type}},
		}
		if p.Type == "golang" && p.Name == "stdlib" {
			c.Type = cdx.ComponentTypeFramework
		}
		if len(p.Licenses) > 0 {
			var ls cdx.Licenses
			for _, l := range p.Licenses {
				ls = append(ls, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
			c.Licenses = &ls
		}
		addLocation(c, p.Location)
		byRef[ref] = c
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	comps := make([]cdx.Component, 0, len(refs))
	for _, ref := range refs {
		comps = append(comps, *byRef[ref])
	}
	if len(comps) > 0 {
		bom.Components = &comps
		bom.Dependencies = &[]cdx.Dependency{{Ref: imagePURL, Dependencies: &refs}}
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, SBOMSpecVersion); err != nil {
		return nil, fmt.Errorf("encoding the SBOM: %v", err)
	}
	return buf.Bytes(), nil
}

func addLocation(c *cdx.Component, loc string) {
	if loc == "" {
		return
	}
	for _, p := range *c.Properties {
		if p.Name == LocationProperty && p.Value == loc {
			return
		}
	}
	*c.Properties = append(*c.Properties, cdx.Property{Name: LocationProperty, Value: loc})
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
