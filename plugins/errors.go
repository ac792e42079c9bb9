package plugins

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of plugin management, beside ErrNotFound and ErrConflict. The api
// package maps each to a problem (api/problem.go).
var (
	// ErrTooLarge means an upload exceeded the configured size limit; see
	// [TooLargeError]. Nothing was stored.
	ErrTooLarge = errors.New("plugins: executable too large")
	// ErrInUse means a plugin is active in an environment and cannot be
	// deleted; see [InUseError].
	ErrInUse = errors.New("plugins: plugin is active")
	// ErrActivation means a plugin could not be activated (or settings were
	// refused by the active plugin); see [ActivationError]. Nothing changed.
	ErrActivation = errors.New("plugins: activation failed")
	// ErrNoActivePlugin means the environment has no active plugin.
	ErrNoActivePlugin = errors.New("plugins: no active plugin")
	// ErrNoSealer means the Registry was built without WithSealer, so it
	// cannot keep settings.
	ErrNoSealer = errors.New("plugins: no sealer configured for settings")
)

// FieldError is a request value plugin management refuses: which one
// (In "query", "body" or "path"; Field its name) and why. Never carries a
// setting's value.
type FieldError struct {
	In, Field, Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("plugins: %s %s %s", e.In, e.Field, e.Problem)
}

// TooLargeError is ErrTooLarge with the limit that was exceeded.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the executable is larger than the limit of %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// InUseError is ErrInUse with the environments the plugin is active in.
type InUseError struct{ Environments []string }

func (e *InUseError) Error() string {
	return "the plugin is active in " + strings.Join(e.Environments, " and ") +
		"; activate another plugin there first"
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Reasons an activation fails, as ActivationError.Reason.
const (
	ReasonPlatform  = "platform"  // built for another OS or architecture than this host's
	ReasonChecksum  = "checksum"  // the stored bytes do not hash to the plugin's sha256
	ReasonHandshake = "handshake" // not a partnerhub plugin, or another handshake version
	ReasonCrashed   = "crashed"   // the process exited while starting
	ReasonTimeout   = "timeout"   // it did not complete its start in time
	ReasonProtocol  = "protocol"  // Describe reported another protocol version
	ReasonDescribe  = "describe"  // Describe failed
	ReasonSettings  = "settings"  // Configure refused the environment's settings
	ReasonStart     = "start"     // any other start failure
)

// ActivationError says why a plugin was not activated. Detail is for the
// tenant: it never contains a setting's value (values the plugin echoes are
// redacted).
type ActivationError struct {
	Reason string // one of the Reason constants
	Detail string
	Err    error // the cause, for logs; may name the plugin's binary path
}

func (e *ActivationError) Error() string {
	return "plugins: activation failed (" + e.Reason + "): " + e.Detail
}

// Is makes errors.Is(err, ErrActivation) true.
func (e *ActivationError) Is(target error) bool { return target == ErrActivation }

func (e *ActivationError) Unwrap() error { return e.Err }
