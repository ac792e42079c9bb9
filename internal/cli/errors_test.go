package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/config"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"usage", usageErrorf("bad flag"), ExitUsage},
		{"config invalid wrapped", fmt.Errorf("x: %w", config.ErrInvalid), ExitUsage},
		{"failed", fmt.Errorf("3 changes: %w", ErrFailed), ExitFailed},
		{"plain error", errors.New("boom"), ExitFailed},
		{"404", fmt.Errorf("show: %w", &ProblemError{Status: 404}), ExitNotFound},
		{"409", &ProblemError{Status: 409}, ExitRefused},
		{"422", &ProblemError{Status: 422}, ExitRefused},
		{"400", &ProblemError{Status: 400}, ExitRefused},
		{"429", &ProblemError{Status: 429}, ExitRefused},
		{"401", &ProblemError{Status: 401}, ExitAuth},
		{"403", &ProblemError{Status: 403}, ExitAuth},
		{"500", &ProblemError{Status: 500}, ExitServer},
		{"503", &ProblemError{Status: 503}, ExitServer},
		{"302", &ProblemError{Status: 302}, ExitServer},
		{"transport", &TransportError{Op: "x", Err: &url.Error{Op: "Get", URL: "u", Err: errors.New("refused")}}, ExitServer},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), ExitServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ExitCode(tc.err))
		})
	}
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   *ProblemError
		text   string
	}{
		{"ok", 200, `{}`, nil, ""},
		{"created", 201, ``, nil, ""},
		{"problem", 422, `{"status":422,"title":"Unprocessable Entity","detail":"validation failed","errors":[{"location":"body.partnerCode","message":"expected pattern"}]}`,
			&ProblemError{Status: 422, Title: "Unprocessable Entity", Detail: "validation failed", Errors: []ProblemDetail{{Location: "body.partnerCode", Message: "expected pattern"}}},
			"422 Unprocessable Entity: validation failed\n  body.partnerCode: expected pattern"},
		{"status line wins", 409, `{"status":400,"title":"Conflict","detail":"exists"}`, &ProblemError{Status: 409, Title: "Conflict", Detail: "exists"}, "409 Conflict: exists"},
		{"not a problem", 502, `<html>bad gateway</html>`, &ProblemError{Status: 502, Detail: "<html>bad gateway</html>"}, "502 Bad Gateway: <html>bad gateway</html>"},
		{"empty body", 404, ``, &ProblemError{Status: 404}, "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkResponse(tc.status, []byte(tc.body))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var p *ProblemError
			require.ErrorAs(t, err, &p)
			require.Equal(t, tc.want, p)
			require.Equal(t, tc.text, err.Error())
		})
	}
}

func TestCheckResponseBoundsText(t *testing.T) {
	t.Parallel()
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	err := checkResponse(500, long)
	require.Less(t, len(err.Error()), maxProblemText+50)
}

func TestTransportErrorSaysHowToCheck(t *testing.T) {
	t.Parallel()
	// Never connected: nothing was sent, nothing to check.
	dial := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	err := call("create tenant acme", "partnerhub tenants show acme", dial, 0, nil)
	require.Equal(t, ExitServer, ExitCode(err))
	require.Contains(t, err.Error(), "not reached (nothing was sent)")
	require.NotContains(t, err.Error(), "unknown")
	// Sent, then the connection broke: the outcome is unknown.
	err = call("create tenant acme", "partnerhub tenants show acme", errors.New("connection reset"), 0, nil)
	require.Equal(t, ExitServer, ExitCode(err))
	require.Contains(t, err.Error(), "outcome is unknown; check with: partnerhub tenants show acme")
	// A 5xx after a write: maybe done, say how to check.
	err = call("create tenant acme", "partnerhub tenants show acme", nil, 504, []byte("gateway timeout"))
	require.Equal(t, ExitServer, ExitCode(err))
	require.Contains(t, err.Error(), "check with: partnerhub tenants show acme")
	// A cancelled command (Ctrl-C) is no server error.
	err = call("x", "", fmt.Errorf("do: %w", context.Canceled), 0, nil)
	require.Equal(t, ExitFailed, ExitCode(err))
}
