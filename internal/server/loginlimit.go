package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Login throttling: failed sign-ins are counted per client address and per
// user name, in memory (one process; a restart forgets them). After a few
// free failures every further one locks the key for a delay that doubles,
// up to maxLoginDelay; while a key is locked, logins with it are answered
// 429 with Retry-After, without checking the password. A key's count is
// forgotten loginForget after its last failure, and a user name's on a
// successful sign-in. A locked key's lock is not lengthened by the
// attempts it refuses.
const (
	freeFailsPerName = 5
	freeFailsPerAddr = 20
	firstLoginDelay  = time.Second
	maxLoginDelay    = 15 * time.Minute
	loginForget      = time.Hour
	maxLoginKeys     = 100000 // the map is swept of forgotten keys when this big
)

// loginLimiter counts failed logins by key. Safe for concurrent use.
type loginLimiter struct {
	free int
	now  func() time.Time

	mu   sync.Mutex
	keys map[string]*loginFails
}

// loginFails is one key's failures.
type loginFails struct {
	n      int
	last   time.Time // of the last failure
	locked time.Time // until then, refuse
}

func newLoginLimiter(free int) *loginLimiter {
	return &loginLimiter{free: free, now: time.Now, keys: map[string]*loginFails{}}
}

// try returns how long key stays locked, or 0 when it may try now; then
// the attempt counts as a failure until undo or reset, so that parallel
// attempts cannot all pass before the first fails.
func (l *loginLimiter) try(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.keys[key]
	if f != nil && now.Before(f.locked) {
		return f.locked.Sub(now)
	}
	if len(l.keys) >= maxLoginKeys {
		l.sweep(now)
	}
	if f == nil || now.Sub(f.last) > loginForget {
		f = &loginFails{}
		l.keys[key] = f
	}
	f.n++
	f.last = now
	if over := f.n - l.free; over > 0 {
		d := maxLoginDelay
		if over <= 20 {
			d = min(firstLoginDelay<<(over-1), maxLoginDelay)
		}
		f.locked = now.Add(d)
	}
	return 0
}

// undo takes back the failure try counted for a login that succeeded.
func (l *loginLimiter) undo(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.keys[key]; f != nil && f.n > 0 {
		f.n--
		if f.n <= l.free {
			f.locked = time.Time{}
		}
	}
}

// reset forgets key's failures.
func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// sweep drops the keys whose failures are forgotten; l.mu is held.
func (l *loginLimiter) sweep(now time.Time) {
	for k, f := range l.keys {
		if now.Sub(f.last) > loginForget && !now.Before(f.locked) {
			delete(l.keys, k)
		}
	}
}

// loginLimits are the server's two limiters.
type loginLimits struct {
	byAddr, byName *loginLimiter
}

func newLoginLimits() loginLimits {
	return loginLimits{byAddr: newLoginLimiter(freeFailsPerAddr), byName: newLoginLimiter(freeFailsPerName)}
}

// try returns how long a login from addr as name must wait (0: it may
// go on, and counts as a failure until succeeded).
func (ll loginLimits) try(addr, name string) time.Duration {
	if d := ll.byAddr.try(addr); d > 0 {
		return d
	}
	if d := ll.byName.try(name); d > 0 {
		ll.byAddr.undo(addr) // a refused attempt counts for neither
		return d
	}
	return 0
}

// succeeded takes back the failure try counted: the name starts afresh.
func (ll loginLimits) succeeded(addr, name string) {
	ll.byAddr.undo(addr)
	ll.byName.reset(name)
}

// clientAddr is the address a request comes from (the TCP peer: Hoist
// does not trust X-Forwarded-For).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
