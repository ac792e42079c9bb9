package host

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by Host and by the plugins it hands out. Callers tell a
// plugin that could not start (ErrStart) from one that died (ErrCrashed) or
// took too long (ErrTimeout) with errors.Is.
var (
	// ErrChecksum means a binary's bytes do not hash to the key's SHA256,
	// whether fetched from the BlobSource or found in the disk cache.
	// Nothing was started.
	ErrChecksum = errors.New("host: plugin checksum mismatch")
	// ErrStart means the plugin could not be fetched, started, described or
	// configured. It wraps the cause (sdk.ErrInvalidSettings for settings the
	// plugin refused).
	ErrStart = errors.New("host: plugin failed to start")
	// ErrClosed is returned by everything once Close was called.
	ErrClosed = errors.New("host: closed")
	// ErrInvalidKey means a Key is malformed; nothing was attempted.
	ErrInvalidKey = errors.New("host: invalid key")
	// ErrCrashed means the plugin process exited during the call (or before
	// it could be made) without being asked to: it crashed, or a resource
	// limit killed it. The call may or may not have taken effect; retry with
	// the same idempotency key.
	ErrCrashed = errors.New("host: plugin process crashed")
	// ErrTimeout means the call's deadline passed (the configured call
	// timeout or ctx's own). It is returned together with
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("host: plugin call timed out")
	// ErrBusy means every call slot of the plugin process stayed taken until
	// the call's deadline: the plugin is slower than its traffic.
	ErrBusy = errors.New("host: plugin busy")
	// ErrStopped means the process a Plugin was bound to has been stopped
	// (replaced by another version, evicted, idle): call Get again.
	ErrStopped = errors.New("host: plugin process stopped")
	// ErrPoolFull means the cap on live processes was reached and none could
	// be evicted (all had calls in flight) before the start deadline.
	ErrPoolFull = errors.New("host: plugin pool full")
	// ErrBackoff is matched by a *BackoffError.
	ErrBackoff = errors.New("host: plugin restart backing off")
)

// BackoffError is returned by Get, without starting anything, while a
// plugin version that crashed or failed to start repeatedly waits before its
// next start. It also matches the last failure (ErrCrashed or ErrStart).
type BackoffError struct {
	PartnerCode, Env string
	Failures         int           // consecutive crashes or failed starts
	Wait             time.Duration // until the next start is allowed, from when the error was made
	Last             error         // the last failure
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("host: %s/%s: plugin failed %d times in a row; next start allowed in %s (last failure: %v)",
		e.PartnerCode, e.Env, e.Failures, e.Wait.Round(time.Millisecond), e.Last)
}

// Is makes errors.Is(err, ErrBackoff) true.
func (e *BackoffError) Is(target error) bool { return target == ErrBackoff }

// Unwrap exposes the last failure.
func (e *BackoffError) Unwrap() error { return e.Last }
