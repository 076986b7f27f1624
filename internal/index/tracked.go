package index

import "github.com/hoistci/hoist/internal/pipeline"

// Loader reads indexes for index tracking (pipeline.IndexLoader).
type Loader struct{}

var _ pipeline.IndexLoader = Loader{}

// LoadIndex reads and validates the index at paths; errs are its errors
// (warnings left out), each "file:line:col: message".
func (Loader) LoadIndex(paths ...string) ([]pipeline.Project, []string, error) {
	res, err := Load(paths...)
	if err != nil {
		return nil, nil, err
	}
	var errs []string
	for _, d := range res.Errors() {
		errs = append(errs, d.String())
	}
	return res.Projects, errs, nil
}
