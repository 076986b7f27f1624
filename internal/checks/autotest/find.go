package autotest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// DefaultFile is the test file Docker Hub looks for first.
const DefaultFile = "docker-compose.test.yml"

// Find returns the absolute path of the compose test file for the target
// file's folder dir: explicit (relative to dir, which it must stay inside)
// when set, else docker-compose.test.yml, else the one *.test.yml; "" when
// there is none. Two *.test.yml and no docker-compose.test.yml is an error
// naming them.
func Find(dir, explicit string) (string, error) {
	if explicit != "" {
		p, err := pipeline.SafeJoin(dir, explicit)
		if err != nil {
			return "", fmt.Errorf("autotest file %s: %w", explicit, err)
		}
		if err := regular(p); err != nil {
			return "", fmt.Errorf("autotest file %s: %w", explicit, err)
		}
		return p, nil
	}
	if _, err := os.Lstat(filepath.Join(dir, DefaultFile)); err == nil {
		p, err := pipeline.SafeJoin(dir, DefaultFile)
		if err != nil {
			return "", fmt.Errorf("autotest file %s: %w", DefaultFile, err)
		}
		if err := regular(p); err != nil {
			return "", fmt.Errorf("autotest file %s: %w", DefaultFile, err)
		}
		return p, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("looking for an autotest file: %w", err)
	}
	var found []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".test.yml") && !e.IsDir() {
			found = append(found, e.Name())
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		p, err := pipeline.SafeJoin(dir, found[0])
		if err != nil {
			return "", fmt.Errorf("autotest file %s: %w", found[0], err)
		}
		if err := regular(p); err != nil {
			return "", fmt.Errorf("autotest file %s: %w", found[0], err)
		}
		return p, nil
	default:
		return "", fmt.Errorf("%s has several autotest files (%s) and no %s: rename the one to run to %s, or name it in cccp.yml (autotest: FILE)",
			dir, strings.Join(found, ", "), DefaultFile, DefaultFile)
	}
}

// regular checks that p is an existing regular file.
func regular(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("no such file")
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	return nil
}
