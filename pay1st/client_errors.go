package pay1st

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Errors of the Client, matched with errors.Is. An *APIError matches the
// sentinel of its status; transport failures match ErrUnavailable.
var (
	ErrBadRequest   = errors.New("pay1st: request refused") // 400 and any 4xx without its own sentinel
	ErrUnauthorized = errors.New("pay1st: unauthorized")    // 401: bad credentials, token or signature
	ErrForbidden    = errors.New("pay1st: forbidden")       // 403
	ErrNotFound     = errors.New("pay1st: not found")       // 404
	ErrConflict     = errors.New("pay1st: conflict")        // 409, e.g. a partnerReference used before
	ErrRateLimited  = errors.New("pay1st: rate limited")    // 429 (not retried: the caller decides)
	// ErrUnavailable: 5xx, or no answer (network error, timeout), after the
	// last attempt. Safe to try again later.
	ErrUnavailable = errors.New("pay1st: unavailable")
	// ErrResponseTooLarge: the answer exceeded ClientConfig.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("pay1st: response too large")
	// ErrBadResponse: a 2xx answer that is not what the protocol says.
	ErrBadResponse = errors.New("pay1st: unexpected response")
)

// maxErrorMessage bounds the message quoted from an error body.
const maxErrorMessage = 256

// APIError is a non-2xx answer from Pay1st. Code and Message come from its
// error body when it has one (errorCode/errorMessage as in §6, or
// code/message); they are Pay1st's words, clipped, never our secrets.
type APIError struct {
	Op      string // what we were doing, e.g. "create payment"
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("pay1st: %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is maps the status to the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrBadRequest:
		return e.Status >= 400 && e.Status < 500
	case ErrUnavailable:
		return e.Status >= 500
	}
	return false
}

// Temporary reports whether trying again later may succeed.
func (e *APIError) Temporary() bool { return e.Status >= 500 }

func newAPIError(op string, status int, body []byte, secrets []string) *APIError {
	var b struct {
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
		Code         any    `json:"code"`
		Message      string `json:"message"`
		Error        string `json:"error"`
	}
	e := &APIError{Op: op, Status: status}
	if json.Unmarshal(body, &b) == nil {
		e.Code = firstNonEmpty(b.ErrorCode, fmt.Sprint(nonNil(b.Code)))
		e.Message = firstNonEmpty(b.ErrorMessage, b.Message, b.Error)
	}
	for _, secret := range secrets {
		if secret != "" {
			e.Code = strings.ReplaceAll(e.Code, secret, "[redacted]")
			e.Message = strings.ReplaceAll(e.Message, secret, "[redacted]")
		}
	}
	e.Code, e.Message = clipText(e.Code, 64), clipText(e.Message, maxErrorMessage)
	return e
}

func nonNil(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// clipText keeps at most n bytes of printable text.
func clipText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// networkError is a failure to get an answer at all.
type networkError struct {
	op  string
	err error
}

func (e *networkError) Error() string { return "pay1st: " + e.op + ": " + e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// Is makes every transport failure an ErrUnavailable.
func (e *networkError) Is(target error) bool { return target == ErrUnavailable }

// retryable: 5xx and transport failures; never 4xx, never our own errors.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var ne *networkError
	return errors.As(err, &ne)
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }
