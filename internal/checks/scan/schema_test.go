package scan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hoistci/hoist/internal/pipeline"
)

var (
	schemaOnce sync.Once
	schema16   *jsonschema.Schema
	schemaErr  error
)

// cycloneDXSchema compiles CycloneDX's own JSON schema for 1.6, as the
// cyclonedx-go module ships it (with the SPDX and JSF schemas it refers to).
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
		if err != nil {
			schemaErr = err
			return
		}
		dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
		c := jsonschema.NewCompiler()
		for url, file := range map[string]string{
			"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
			"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
			"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
		} {
			data, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				schemaErr = err
				return
			}
			if err := c.AddResource(url, doc); err != nil {
				schemaErr = err
				return
			}
		}
		schema16, schemaErr = c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	})
	if schemaErr != nil {
		t.Fatalf("loading the CycloneDX 1.6 schema: %v", schemaErr)
	}
	return schema16
}

// validateSBOM validates data against the CycloneDX 1.6 JSON schema.
func validateSBOM(t *testing.T, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := cycloneDXSchema(t).Validate(inst); err != nil {
		t.Errorf("the SBOM is not valid CycloneDX 1.6: %v", err)
	}
}

func TestSBOMSchema(t *testing.T) {
	pkgs := append(append(append(append([]pipeline.Package(nil), wantDebian...), wantAlpine...), wantLang...), wantRPM...)
	pkgs = append(pkgs, GoPackages("/bin/a", &testBuildInfo)...)
	data, err := BuildSBOM("127.0.0.1:5000/ns/app:1.0", "sha256:0123456789abcdef", pkgs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	validateSBOM(t, data)
	// The validator does reject what the schema forbids.
	bad := bytes.Replace(data, []byte(`"type": "library"`), []byte(`"type": "gadget"`), 1)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if cycloneDXSchema(t).Validate(inst) == nil {
		t.Error("an unknown component type passes the schema")
	}
}
