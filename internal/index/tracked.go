package index

import "github.com/hoistci/hoist/internal/pipeline"

// Loader reads indexes for index tracking (pipeline.IndexLoader).
type Loader struct {
	// MaxFileSize bounds each index file (Options.MaxFileSize).
	MaxFileSize int64
	// Root confines the index files to a checkout (Options.Root).
	Root string
}

var _ pipeline.IndexLoader = Loader{}

// LoadIndex reads and validates the index at paths; errs are its errors
// (warnings left out), each "file:line:col: message".
func (l Loader) LoadIndex(paths ...string) ([]pipeline.Project, []string, error) {
	res, err := Options{MaxFileSize: l.MaxFileSize, Root: l.Root}.Load(paths...)
	if err != nil {
		return nil, nil, err
	}
	var errs []string
	for _, d := range res.Errors() {
		errs = append(errs, d.String())
	}
	return res.Projects, errs, nil
}
