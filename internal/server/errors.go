package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The error codes of the API, one per kind of refusal.
const (
	codeNotFound     = "not_found"
	codeBadRequest   = "bad_request"
	codeValidation   = "validation"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeConflict     = "conflict"
	codeInternal     = "internal"
	codeTooLarge     = "too_large"
)

// errorTable maps domain errors to the API's status and code, checked in
// order with errors.Is. Errors in none of them are internal (500).
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{pipeline.ErrNotFound, http.StatusNotFound, codeNotFound},
	{pipeline.ErrExists, http.StatusConflict, codeConflict},
	{pipeline.ErrFinished, http.StatusConflict, codeConflict},
	{pipeline.ErrElsewhere, http.StatusConflict, codeConflict},
	{pipeline.ErrDisabled, http.StatusConflict, codeConflict},
	{pipeline.ErrNotFinished, http.StatusConflict, codeConflict},
	{pipeline.ErrBusy, http.StatusConflict, codeConflict},
	{errReadOnly, http.StatusConflict, codeConflict},
	{errForbidden, http.StatusForbidden, codeForbidden},
	{ErrBadLogin, http.StatusUnauthorized, codeUnauthorized},
}

// errReadOnly refuses changes to projects that come from the index.
var errReadOnly = errors.New("read-only")

// apiError is the body of every error answer:
// {"error":{"code":…,"message":…,"field":…,"fields":[…]}}.
type apiError struct {
	Status  int          `json:"-"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Field   string       `json:"field,omitempty"`
	Fields  []FieldError `json:"fields,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

// badRequest is a 400 with msg.
func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// codeFor is the code of an answer with status.
func codeFor(status int) string {
	switch status {
	case http.StatusNotFound:
		return codeNotFound
	case http.StatusUnauthorized:
		return codeUnauthorized
	case http.StatusForbidden:
		return codeForbidden
	case http.StatusConflict:
		return codeConflict
	case http.StatusUnprocessableEntity:
		return codeValidation
	case http.StatusBadRequest:
		return codeBadRequest
	case http.StatusRequestEntityTooLarge:
		return codeTooLarge
	}
	return codeInternal
}

// toAPIError turns any error into the answer the API gives for it.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	out := &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error; the server log has the details"}
	for _, t := range errorTable {
		if errors.Is(err, t.err) {
			out = &apiError{Status: t.status, Code: t.code, Message: err.Error()}
			break
		}
	}
	var fes FieldErrors
	var fe *FieldError
	switch {
	case errors.As(err, &fes) && len(fes) > 0:
		out.Fields = fes
	case errors.As(err, &fe):
		out.Fields = FieldErrors{*fe}
	}
	if len(out.Fields) > 0 {
		if out.Status == http.StatusInternalServerError {
			out.Status, out.Code = http.StatusUnprocessableEntity, codeValidation
		}
		out.Field, out.Message = out.Fields[0].Field, FieldErrors(out.Fields).Error()
	}
	return out
}

// writeError answers with err as JSON.
func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	writeJSON(w, ae.Status, struct {
		Error *apiError `json:"error"`
	}{ae})
}

// apiFail answers with err, logging it when it is the server's fault.
func apiFail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if ae := toAPIError(err); ae.Status >= 500 {
		log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		log.Debug("api refused", "method", r.Method, "path", r.URL.Path, "err", err, slog.Int("status", ae.Status))
	}
	writeError(w, err)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// decodeJSON reads r's body, one JSON object, into v. A body over 1 MiB
// is refused with 413; unknown fields, wrong types, trailing data, and
// nesting, values or numbers over pipeline's limits with 400, each with an
// *apiError that says what is wrong and where.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return jsonError(err)
	}
	lim := pipeline.DefaultParseLimits()
	lim.MaxBytes = maxBody
	if err := pipeline.CheckJSONLimits("body", body, lim); err != nil {
		var le *pipeline.LimitError
		if errors.As(err, &le) {
			return badRequest("the body is refused at line %d, column %d: %s", le.Line, le.Col, le.Message)
		}
		return badRequest("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return badRequest("the body must hold one JSON object; found more after it (byte offset %d)", dec.InputOffset())
	}
	return nil
}

// jsonError explains a decoding error.
func jsonError(err error) *apiError {
	var (
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		mbe  *http.MaxBytesError
		fe   *FieldError
		unk  = "json: unknown field "
		what = err.Error()
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte offset %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: typ.Field,
			Message: fmt.Sprintf("field %q must be %s, not %s (byte offset %d)", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value, typ.Offset)}
	case errors.As(err, &typ):
		return badRequest("the body must be a JSON object, not %s", typ.Value)
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
			Message: fmt.Sprintf("the body is larger than %d bytes, the limit; send a smaller one", mbe.Limit)}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: fe.Field, Message: fe.Error()}
	case strings.HasPrefix(what, unk):
		name := strings.Trim(strings.TrimPrefix(what, unk), `"`)
		return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: name,
			Message: fmt.Sprintf("unknown field %q; see /api/v1/openapi.json for the fields this accepts", name)}
	}
	return badRequest("malformed JSON: %s", strings.TrimPrefix(what, "json: "))
}

// jsonKind names a Go kind the way JSON users know it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "a list"
	case "struct", "map":
		return "an object"
	}
	return "a number"
}

func isNotFound(err error) bool { return errors.Is(err, pipeline.ErrNotFound) }
