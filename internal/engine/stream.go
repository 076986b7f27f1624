package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// message is one object of the engine's JSON message stream (build, push
// and pull output). Only the fields Hoist uses are decoded.
type message struct {
	Stream      string          `json:"stream"`
	Status      string          `json:"status"`
	ID          string          `json:"id"`
	Error       string          `json:"error"`
	ErrorDetail *messageError   `json:"errorDetail"`
	Aux         json.RawMessage `json:"aux"`
}

type messageError struct {
	Message string `json:"message"`
}

// EngineError is an error the engine reported inside a message stream, such
// as a failing build step. Its message is the engine's own text.
type EngineError struct {
	Message string
}

// Error returns the engine's text.
func (e *EngineError) Error() string { return e.Message }

// streamPrinter turns a JSON message stream into readable plain-text lines:
// "stream" text as it arrives, and one line per state change of each layer
// (progress ticks of the same state are dropped).
type streamPrinter struct {
	out    io.Writer
	states map[string]string // layer ID → last status printed
	aux    func(json.RawMessage)
	status func(string)
}

// decodeStream reads r until EOF, printing to out and handing every aux
// payload to aux (which may be nil). An error message from the engine ends
// the stream and is returned as an *EngineError.
func decodeStream(r io.Reader, out io.Writer, aux func(json.RawMessage)) error {
	return decodeStreamStatus(r, out, aux, nil)
}

// decodeStreamStatus is decodeStream that also hands every status line
// without a layer ID to status (which may be nil): Podman reports a push's
// digest only there.
func decodeStreamStatus(r io.Reader, out io.Writer, aux func(json.RawMessage), status func(string)) error {
	p := &streamPrinter{out: orDiscard(out), states: map[string]string{}, aux: aux, status: status}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading engine output: %w", err)
		}
		if err := p.print(m); err != nil {
			return err
		}
	}
}

// print handles one message.
func (p *streamPrinter) print(m message) error {
	if msg := m.errorText(); msg != "" {
		return &EngineError{Message: msg}
	}
	if len(m.Aux) > 0 && p.aux != nil {
		p.aux(m.Aux)
	}
	if m.Stream != "" {
		_, err := io.WriteString(p.out, m.Stream)
		return err
	}
	if m.Status == "" {
		return nil
	}
	line := m.Status
	if m.ID == "" && p.status != nil {
		p.status(m.Status)
	}
	if m.ID != "" {
		if p.states[m.ID] == m.Status {
			return nil
		}
		p.states[m.ID] = m.Status
		line = m.ID + ": " + m.Status
	}
	_, err := io.WriteString(p.out, strings.TrimRight(line, "\n")+"\n")
	return err
}

// errorText is the engine's error text, or "" when m is not an error.
func (m message) errorText() string {
	if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
		return strings.TrimSpace(m.ErrorDetail.Message)
	}
	return strings.TrimSpace(m.Error)
}
