package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		sent, total int64
		width       int
		want        string
	}{
		{"start", 0, 400, 10, "up [..........]   0% 0 B/400 B"},
		{"quarter", 100, 400, 10, "up [##........]  25% 100 B/400 B"},
		{"rounds down", 399, 400, 10, "up [#########.]  99% 399 B/400 B"},
		{"done", 400, 400, 10, "up [##########] 100% 400 B/400 B"},
		{"more than announced", 500, 400, 10, "up [##########] 100% 500 B/400 B"},
		{"empty file", 0, 0, 4, "up [####] 100% 0 B/0 B"},
		{"KiB and MiB", 3 << 19, 3 << 20, 4, "up [##..]  50% 1.5 MiB/3.0 MiB"},
		{"KiB", 1536, 1 << 20, 4, "up [....]   0% 1.5 KiB/1.0 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, progressLine("up", tt.sent, tt.total, tt.width))
		})
	}
}

// TestProgressRedraws: the bar is redrawn in place (carriage return) only
// when the whole percentage changes, and ends its line once.
func TestProgressRedraws(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newProgress(&out, "uploading w 1", 400)
	for range 400 {
		_, err := p.Write([]byte{0})
		require.NoError(t, err)
	}
	p.done()
	p.done()
	s := out.String()
	require.Equal(t, 101, strings.Count(s, "\r"), "0%..100%: one drawing each")
	require.Equal(t, 1, strings.Count(s, "\n"))
	require.Contains(t, s, "\ruploading w 1 [##############################] 100% 400 B/400 B ")
}
