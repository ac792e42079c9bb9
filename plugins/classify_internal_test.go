package plugins

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	settings := map[string]string{"api_key": "s3cr3t-value", "n": "1"}
	settingsErr := fmt.Errorf("%w: configure: %w: api_key %q is wrong", host.ErrStart, sdk.ErrInvalidSettings, "s3cr3t-value")
	tests := []struct {
		name   string
		err    error
		reason string
		detail string // contained in Detail
	}{
		{"checksum", fmt.Errorf("%w: cached /var/cache/x", host.ErrChecksum), ReasonChecksum, "sha256"},
		{"settings", settingsErr, ReasonSettings, `api_key "[redacted]" is wrong`},
		{"protocol", fmt.Errorf("%w: plugin %q speaks protocol 2, want 1", host.ErrStart, "x"), ReasonProtocol, "protocol 1"},
		{"exec format", fmt.Errorf("%w: fork/exec /data/cache/abc: exec format error", host.ErrStart), ReasonPlatform, "exec format error"},
		{"garbage on stdout", fmt.Errorf("%w: Unrecognized remote plugin message: hello\nThis usually means...", host.ErrStart), ReasonHandshake, "handshake"},
		{"nothing on stdout", fmt.Errorf("%w: Unrecognized remote plugin message: \nThis usually means...", host.ErrStart), ReasonCrashed, "exited"},
		{"exited", fmt.Errorf("%w: plugin exited before we could connect", host.ErrStart), ReasonCrashed, "exited"},
		{"crashed", fmt.Errorf("describe: %w", host.ErrCrashed), ReasonCrashed, "exited"},
		{"start timeout", fmt.Errorf("%w: timeout while waiting for plugin to start", host.ErrStart), ReasonTimeout, "in time"},
		{"pool full", host.ErrPoolFull, ReasonStart, "try again"},
		{"other", errors.New("host: something odd at /var/lib/partnerhub"), ReasonStart, "could not be started"},
		{"backing off", &host.BackoffError{PartnerCode: "acme", Env: "staging", Failures: 3, Wait: 4 * time.Second, Last: settingsErr},
			ReasonSettings, "failed 3 times in a row; the next start is allowed in 4s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ae := classify(tt.err, settings)
			require.Equal(t, tt.reason, ae.Reason)
			require.Contains(t, ae.Detail, tt.detail)
			require.NotContains(t, ae.Detail, "s3cr3t-value")
			require.NotContains(t, ae.Detail, "/var/", "no paths of the host")
			require.ErrorIs(t, ae, ErrActivation)
			require.ErrorIs(t, ae, tt.err, "the cause is kept for logs")
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg      string
		settings map[string]string
		want     string
	}{
		{"key abc123 bad", map[string]string{"k": "abc123"}, "key [redacted] bad"},
		{"both abc and abcdef", map[string]string{"a": "abc", "b": "abcdef"}, "both [redacted] and [redacted]"},
		{"short ok values stay: on 1", map[string]string{"a": "on", "b": "1"}, "short ok values stay: on 1"},
		{"nothing", nil, "nothing"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, redact(tt.msg, tt.settings))
	}
}
