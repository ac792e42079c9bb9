package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
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

// ErrUnexpectedAnswer marks a 2xx answer that is not what the API documents
// (a proxy's login page, an empty or malformed body): exit 6, since for a
// write the outcome is unknown.
var ErrUnexpectedAnswer = errors.New("unexpected answer from the server")

// usageError is a command line the CLI refuses before sending anything. It
// is config.ErrInvalid for ExitCode (exit 2, like main's own usage errors)
// but reads "usage: ...", not "invalid configuration: ...".
type usageError struct{ msg string }

func (u *usageError) Error() string { return "usage: " + u.msg }

// Is makes errors.Is(err, config.ErrInvalid) true.
func (u *usageError) Is(target error) bool { return target == config.ErrInvalid }

// usageErrorf is a usage error: exit 2.
func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
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
	if errors.Is(t.Err, context.Canceled) {
		s = t.Op + ": interrupted before the server's answer"
	}
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

// RedirectError is a 3xx answer. The CLI never follows one: Go's client
// would turn a POST/PUT/PATCH/DELETE into a GET whose 200 looks like the
// write's success. partnerhub's API does not redirect, so a redirect comes
// from something in front of it (typically http:// to https://): the
// request was not processed, and --server should be where it points.
type RedirectError struct {
	Op       string
	Method   string
	Status   int
	Location string // redacted: no userinfo
	Server   string // the --server the Location suggests, "" when unclear
}

func (r *RedirectError) Error() string {
	s := fmt.Sprintf("%s: the server redirected (%d %s) to %s; not followed", r.Op, r.Status, http.StatusText(r.Status), r.Location)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s += "; the request was not applied (partnerhub's API never redirects: a proxy or load balancer in front of it answered)"
	}
	if r.Server != "" {
		return s + "\n  use " + r.Server + " as --server (or PARTNERHUB_URL)"
	}
	return s + "\n  point --server (or PARTNERHUB_URL) where it redirects"
}

// noRedirect is the HTTP client's CheckRedirect: every redirect stops with
// a *RedirectError (which carries the Location, unlike
// http.ErrUseLastResponse).
func noRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	r := &RedirectError{Method: first.Method, Location: req.URL.Redacted()}
	if req.Response != nil {
		r.Status = req.Response.StatusCode
	}
	// The Location repeats the request's path on another base: that base
	// is the --server to use.
	if base, ok := strings.CutSuffix(req.URL.Path, first.URL.Path); ok {
		u := url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: base}
		r.Server = u.String()
	}
	return r
}

// call wraps the generated client's result: a transport error becomes a
// *TransportError (with check for writes), an error status a *ProblemError,
// a redirect a *RedirectError, an undecodable body ErrUnexpectedAnswer.
// A write interrupted by Ctrl-C is a *TransportError too: it may have been
// applied. An interrupted read is plain (exit 1).
func call(op, check string, err error, status int, body []byte) error {
	if err != nil {
		var redir *RedirectError
		if errors.As(err, &redir) {
			r := *redir
			r.Op = op
			return &r
		}
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syntax) || errors.As(err, &typ) {
			// The generated client could not decode a JSON answer.
			return unexpected(op, check, "a JSON body that does not decode")
		}
		if errors.Is(err, context.Canceled) && check == "" {
			return fmt.Errorf("%s: interrupted: %w", op, err)
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
	var r *RedirectError
	if errors.As(err, &t) || errors.As(err, &r) || errors.Is(err, ErrUnexpectedAnswer) || errors.Is(err, context.DeadlineExceeded) {
		return ExitServer
	}
	return ExitFailed
}

// unexpected is ErrUnexpectedAnswer for op; with check (a write) it says
// how to find out whether it happened.
func unexpected(op, check, what string) error {
	err := fmt.Errorf("%s: %w (%s)", op, ErrUnexpectedAnswer, what)
	if check != "" {
		err = fmt.Errorf("%w\n  the outcome is unknown; check with: %s", err, check)
	}
	return err
}

// decoded is v, the generated client's decoding of r's 2xx answer, after
// call accepted r. The client leaves it nil when the body was not the
// documented JSON (another content type, another status): that is
// ErrUnexpectedAnswer, never a nil dereference. The body is not quoted: an
// answer may carry a secret shown once (a key, a token).
func decoded[T any](op, check string, r interface{ StatusCode() int }, v *T) (*T, error) {
	if v != nil {
		return v, nil
	}
	ct := "no Content-Type"
	if h := headerOf(r); h != nil && h.Get("Content-Type") != "" {
		ct = "Content-Type " + h.Get("Content-Type")
	}
	return nil, unexpected(op, check, fmt.Sprintf("%d with %s, %d bytes", statusOf(r), ct, len(bodyOf(r))))
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

// headerOf is a generated response's HTTP header; nil when absent.
func headerOf(r any) http.Header {
	v := reflect.ValueOf(r)
	if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil
	}
	f := reflect.Indirect(v).FieldByName("HTTPResponse")
	if !f.IsValid() {
		return nil
	}
	if hr, ok := f.Interface().(*http.Response); ok && hr != nil {
		return hr.Header
	}
	return nil
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
