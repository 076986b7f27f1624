package registry

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hoistci/hoist/internal/pipeline"
)

// explain adds what a user needs to know to a registry error about ref: it
// wraps pipeline.ErrNotFound when the manifest or repository does not exist,
// and says how to log in when the registry refused the credentials.
func explain(ref name.Reference, err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	host := ref.Context().RegistryStr()
	switch {
	case notFound(terr):
		return fmt.Errorf("%w: %w", pipeline.ErrNotFound, err)
	case denied(terr):
		return fmt.Errorf("%s refused access (run `docker login %s`; credentials come from ~/.docker/config.json and its credential helpers): %w", host, host, err)
	}
	return err
}

// notFound reports whether terr says the manifest or repository is missing.
// A HEAD answer has no body, so its status code is all there is.
func notFound(terr *transport.Error) bool {
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	return hasCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode)
}

// denied reports whether terr is an authentication or authorization failure.
func denied(terr *transport.Error) bool {
	if terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden {
		return true
	}
	return hasCode(terr, transport.UnauthorizedErrorCode, transport.DeniedErrorCode)
}

func hasCode(terr *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		for _, code := range codes {
			if d.Code == code {
				return true
			}
		}
	}
	return false
}
