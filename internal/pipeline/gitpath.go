package pipeline

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrAuthRequired is a checkout whose server wants credentials git does
// not have, or refused the ones it had (source.ErrAuthRequired).
var ErrAuthRequired = errors.New("authentication required")

// IsSCPLike reports whether u is an scp-like ssh address (user@host:path):
// git's rule is a colon before the first slash.
func IsSCPLike(u string) bool {
	colon := strings.IndexByte(u, ':')
	slash := strings.IndexByte(u, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

// CheckoutDirReady returns an error unless dir, a checkout's folder, is
// missing or an empty folder.
func CheckoutDirReady(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkout folder %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("checkout folder %s already exists and is not empty", dir)
	}
	return nil
}
