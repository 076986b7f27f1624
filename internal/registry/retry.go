package registry

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retryDelays are the waits before doing a registry operation again after
// a transient answer (429, 5xx). go-containerregistry retries a request it
// can send again, not a blob upload's PATCH, whose body it has consumed;
// Attach, retried whole, writes the same content again.
var retryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

// retryTransient runs op, and again after each of retryDelays while it fails
// on a transient registry answer.
func retryTransient(ctx context.Context, op func() error) error {
	for i := 0; ; i++ {
		err := op()
		if err == nil || i == len(retryDelays) || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retryDelays[i]):
		}
	}
}

// transient reports whether err is a registry's 429 or 5xx answer.
func transient(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	return terr.StatusCode == http.StatusTooManyRequests || terr.StatusCode >= 500 && terr.StatusCode <= 599
}

// retryStatusCodes are the answers a request through a transport of
// registryTransport is tried again after, as go-containerregistry's remote
// options retry them by default.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
	499, // nginx: the client closed the request
	522, // Cloudflare: connection timed out
}
