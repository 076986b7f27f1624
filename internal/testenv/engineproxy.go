package testenv

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EngineProxy is a unix socket that forwards every connection to the
// engine DockerHost names, and that a test cuts (as if the engine stopped
// or restarted: open connections break, new ones are refused) and restores.
type EngineProxy struct {
	// Host is the proxy's address, for engine.Options.Host or DOCKER_HOST.
	Host string

	t      testing.TB
	path   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

// NewEngineProxy starts an EngineProxy in front of the engine at
// DockerHost (a unix socket), skipping the test when there is none; it is
// closed when the test ends.
func NewEngineProxy(t testing.TB) *EngineProxy {
	t.Helper()
	host := DockerHost(t)
	if !strings.HasPrefix(host, "unix://") {
		Missing(t, "the engine proxy forwards to a unix socket, and DOCKER_HOST is "+host)
	}
	p := &EngineProxy{t: t, path: filepath.Join(t.TempDir(), "engine.sock"), target: strings.TrimPrefix(host, "unix://"), conns: map[net.Conn]bool{}}
	p.Host = "unix://" + p.path
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// Cut closes the proxy's socket and every connection through it.
func (p *EngineProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore listens again, if the proxy is cut.
func (p *EngineProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Errorf("engine proxy: %v", err)
		return
	}
	p.ln = ln
	go p.serve(ln)
}

func (p *EngineProxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // cut meanwhile
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go p.pipe(c, up)
	}
}

// pipe copies both ways until either side ends, then closes both.
func (p *EngineProxy) pipe(c, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}
