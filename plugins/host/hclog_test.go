package host

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

// jsonLines decodes what a slog JSON handler wrote, one record a line.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func TestHCLogAdapterLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level hclog.Level
		want  string // slog's level name; "" when filtered out
	}{
		{hclog.Trace, ""},
		{hclog.Debug, "DEBUG"},
		{hclog.Info, "INFO"},
		{hclog.NoLevel, "INFO"},
		{hclog.Warn, "WARN"},
		{hclog.Error, "ERROR"},
		{hclog.Off, ""},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := newHCLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			l.Log(tt.level, "hello", "k", 1)
			lines := jsonLines(t, &buf)
			if tt.want == "" {
				require.Empty(t, lines)
				return
			}
			require.Len(t, lines, 1)
			require.Equal(t, tt.want, lines[0]["level"])
			require.Equal(t, "hello", lines[0]["msg"])
			require.Equal(t, float64(1), lines[0]["k"])
		})
	}
}

func TestHCLogAdapterContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := newHCLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	require.Equal(t, hclog.Info, base.GetLevel())
	require.False(t, base.IsDebug())
	require.True(t, base.IsWarn())

	l := base.With("plugin_id", 7).Named("wallet").Named("stdio")
	require.Equal(t, "wallet.stdio", l.Name())
	require.Equal(t, []any{"plugin_id", 7}, l.ImpliedArgs())
	l.Warn("slow", "ms", 900)
	require.Equal(t, "other", l.ResetNamed("other").Name())

	_, err := l.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}).Write([]byte("[ERROR] broken pipe\n"))
	require.NoError(t, err)
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("[DEBUG] forced")
	l.StandardLogger(nil).Print("[DEBUG] kept as is")

	lines := jsonLines(t, &buf)
	require.Len(t, lines, 4)
	require.Equal(t, map[string]any{"plugin_id": float64(7), "logger": "wallet.stdio", "ms": float64(900)},
		map[string]any{"plugin_id": lines[0]["plugin_id"], "logger": lines[0]["logger"], "ms": lines[0]["ms"]})
	require.Equal(t, "ERROR", lines[1]["level"])
	require.Equal(t, "broken pipe", lines[1]["msg"])
	require.Equal(t, "WARN", lines[2]["level"])
	require.Equal(t, "forced", lines[2]["msg"])
	require.Equal(t, "INFO", lines[3]["level"])
	require.Equal(t, "[DEBUG] kept as is", lines[3]["msg"])

	off := newHCLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError + 1})))
	require.Equal(t, hclog.Off, off.GetLevel())
}
