package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewLoggerWritesHostFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelDebug)
	log.Warn("game backend slow", "player", "p1", slog.Group("req", "ms", 1200))

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, "game backend slow", line["@message"])
	require.Equal(t, "warn", line["@level"])
	require.Equal(t, "p1", line["player"])
	require.Equal(t, map[string]any{"ms": float64(1200)}, line["req"])
	ts, ok := line["@timestamp"].(string)
	require.True(t, ok)
	_, err := time.Parse(hclogTimeFormat, ts)
	require.NoError(t, err)
}

func TestHCLogLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "trace"},
		{slog.LevelDebug, "debug"},
		{slog.LevelInfo, "info"},
		{slog.LevelInfo + 2, "info"},
		{slog.LevelWarn, "warn"},
		{slog.LevelError, "error"},
		{slog.LevelError + 4, "error"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, hclogLevel(tt.level), tt.level.String())
	}
}
