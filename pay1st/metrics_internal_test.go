package pay1st

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStatusClass: an attempt is labelled by the status Pay1st answered
// with, whatever became of its body (a huge 5xx error page is a 5xx).
func TestStatusClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"ok", nil, "2xx"},
		{"4xx", newAPIError("create payment", 400, []byte(`{}`), nil), "4xx"},
		{"5xx", newAPIError("create payment", 503, nil, nil), "5xx"},
		{"3xx", newAPIError("create payment", 302, nil, nil), "3xx"},
		{"huge 2xx", &tooLargeError{op: "query payment", status: 200, limit: 1 << 20}, "2xx"},
		{"huge 5xx", fmt.Errorf("wrapped: %w", &tooLargeError{op: "query payment", status: 502, limit: 1 << 20}), "5xx"},
		{"no answer", &networkError{op: "query payment", err: errors.New("connection reset")}, "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, statusClass(tt.err))
		})
	}
	require.ErrorIs(t, &tooLargeError{status: 502}, ErrResponseTooLarge)
}
