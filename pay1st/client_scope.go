package pay1st

import (
	"context"
	"sync/atomic"
)

// CallScope carries what one caller's calls need beyond their arguments,
// through the context (WithCallScope): secrets of its own to keep out of
// errors and logs, and whether an attempt left Pay1st's side unknown.
// Use one scope per logical operation.
type CallScope struct {
	// Secrets are scrubbed from Pay1st's quoted error text (and so from
	// the client's log records) like the credentials are: a caller's own
	// secrets that a request carries, such as a webhook URL's token that
	// Pay1st may echo.
	Secrets []string

	ambiguous atomic.Bool
}

// Ambiguous reports whether an attempt of a call under the scope (other
// than a token request) failed with a 5xx or without an answer: Pay1st
// may have acted on it, so a later refusal may be about that request.
func (s *CallScope) Ambiguous() bool { return s != nil && s.ambiguous.Load() }

type callScopeKey struct{}

// WithCallScope returns ctx carrying s for the client's calls.
func WithCallScope(ctx context.Context, s *CallScope) context.Context {
	return context.WithValue(ctx, callScopeKey{}, s)
}

func callScopeOf(ctx context.Context) *CallScope {
	s, _ := ctx.Value(callScopeKey{}).(*CallScope)
	return s
}
