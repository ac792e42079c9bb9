package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"

	"github.com/partnerhub/partnerhub/internal/config"
)

// Exit codes: what a script can rely on (docs/cli.md, every --help).
const (
	ExitOK       = 0
	ExitFailed   = 1 // the operation ran and failed (a failed test transaction, a diff with --check)
	ExitUsage    = 2 // bad flags or arguments (config.ErrInvalid)
	ExitNotFound = 3 // 404
	ExitRefused  = 4 // conflict, validation, any other 4xx
	ExitAuth     = 5 // 401, 403
	ExitServer   = 6 // 5xx, network error, unknown outcome
)

// ErrFailed marks an operation that ran and failed: exit 1.
var ErrFailed = errors.New("failed")

// usageErrorf is a usage error: exit 2.
func usageErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", config.ErrInvalid, fmt.Sprintf(format, a...))
}

// ProblemDetail is one entry of a problem's errors list.
type ProblemDetail struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message,omitempty"`
}

// ProblemError is an error answer from the server: its status and its
// RFC 9457 problem (when the body was one).
type ProblemError struct {
	Status int             `json:"status"`
	Title  string          `json:"title,omitempty"`
	Detail string          `json:"detail,omitempty"`
	Errors []ProblemDetail `json:"errors,omitempty"`
}

func (p *ProblemError) Error() string {
	var b strings.Builder
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	fmt.Fprintf(&b, "%d %s", p.Status, title)
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for _, d := range p.Errors {
		b.WriteString("\n  ")
		if d.Location != "" {
			b.WriteString(d.Location + ": ")
		}
		b.WriteString(d.Message)
	}
	return b.String()
}

// maxProblemText bounds how much of a non-problem error body is quoted.
const maxProblemText = 200

// checkResponse turns an error status into a *ProblemError (nil for 2xx).
func checkResponse(status int, body []byte) error {
	if status >= 200 && status < 300 {
		return nil
	}
	p := &ProblemError{Status: status}
	if err := json.Unmarshal(body, p); err != nil || (p.Title == "" && p.Detail == "") {
		p.Title, p.Detail, p.Errors = "", "", nil
		text := strings.TrimSpace(string(body))
		if len(text) > maxProblemText {
			text = text[:maxProblemText] + "..."
		}
		p.Detail = text
	}
	p.Status = status // the status line wins over the body's field
	return p
}

// TransportError is a request whose answer never arrived: the server was not
// reached, or it was and the outcome is unknown. Check says how to find out.
type TransportError struct {
	Op    string
	Check string
	Err   error
}

func (t *TransportError) Error() string {
	if t.NotSent() {
		return fmt.Sprintf("%s: the server was not reached (nothing was sent): %v", t.Op, t.Err)
	}
	s := fmt.Sprintf("%s: no answer from the server: %v", t.Op, t.Err)
	if t.Check != "" {
		s += "\n  the outcome is unknown; check with: " + t.Check
	}
	return s
}

// NotSent reports a failure to connect: the request never left, so its
// outcome is known (nothing happened).
func (t *TransportError) NotSent() bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(t.Err, &dns) || (errors.As(t.Err, &op) && op.Op == "dial")
}

func (t *TransportError) Unwrap() error { return t.Err }

// call wraps the generated client's result: a transport error becomes a
// *TransportError (with check for writes), an error status a *ProblemError.
func call(op, check string, err error, status int, body []byte) error {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return &TransportError{Op: op, Check: check, Err: err}
	}
	if err := checkResponse(status, body); err != nil {
		if status >= 500 && check != "" {
			// A proxy's 502/504 may hide a write that happened.
			return fmt.Errorf("%s: %w\n  the outcome may be unknown; check with: %s", op, err, check)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ExitCode maps an error from Run (or from any of main's commands) to the
// process's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, config.ErrInvalid) {
		return ExitUsage
	}
	var p *ProblemError
	if errors.As(err, &p) {
		switch {
		case p.Status == http.StatusNotFound:
			return ExitNotFound
		case p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden:
			return ExitAuth
		case p.Status >= 500:
			return ExitServer
		case p.Status >= 400:
			return ExitRefused
		}
		return ExitServer // an unexpected 1xx/3xx: outcome unknown
	}
	var t *TransportError
	if errors.As(err, &t) || errors.Is(err, context.DeadlineExceeded) {
		return ExitServer
	}
	return ExitFailed
}

// statusOf and bodyOf read a generated response (a pointer to a struct with
// Body []byte and a StatusCode method); nil after a transport error.
func statusOf(r interface{ StatusCode() int }) int {
	v := reflect.ValueOf(r)
	if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return 0
	}
	return r.StatusCode()
}

func bodyOf(r any) []byte {
	v := reflect.ValueOf(r)
	if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil
	}
	if b, ok := reflect.Indirect(v).FieldByName("Body").Interface().([]byte); ok {
		return b
	}
	return nil
}
