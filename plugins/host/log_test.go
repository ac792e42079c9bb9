package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
)

// lockedBuffer is a log sink the pool's goroutines write to at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestEvictionIsLoggedInTheCallersTrace: the line saying an idle process
// makes room for another carries the trace and span IDs of the call (a
// job, an activation) that needed the room.
func TestEvictionIsLoggedInTheCallersTrace(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	logs := &lockedBuffer{}
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) {
		c.MaxProcesses = 1
		c.Logger = slog.New(telemetry.LogHandler(slog.NewJSONHandler(logs, nil)))
	})
	requireAnswers(t, h.Host, tenantKey("a", bin))

	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(t.Context(), "job")
	defer span.End()
	_, err := fulfil(ctx, h.Host, tenantKey("b", bin), "player")
	require.NoError(t, err)

	var evicted map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		if line["msg"] == "evicting least recently used plugin process" {
			evicted = line
		}
	}
	require.NotNil(t, evicted, "a's process made room for b's:\n%s", logs)
	require.Equal(t, span.SpanContext().TraceID().String(), evicted[telemetry.LogTraceID], "%v", evicted)
	require.Equal(t, span.SpanContext().SpanID().String(), evicted[telemetry.LogSpanID])
}

// TestPluginStderrIsRedacted: what a plugin writes to its stderr reaches
// partnerhub's log (through go-plugin), but never its settings' values:
// not in the message, not in an attribute, not in a plain text line.
func TestPluginStderrIsRedacted(t *testing.T) {
	t.Parallel()
	const secret = "hmac-S3CRET-4242"
	bin := plugintest.Build(t, envPluginPackage)
	logs := &lockedBuffer{}
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	key := tenantKey("a", bin)
	key.Settings = map[string]string{"echo": secret, "short": "on"}
	requireAnswers(t, h.Host, key)
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "configured with echo=") && strings.Contains(logs.String(), "plain line with echo=")
	}, 10*time.Second, 20*time.Millisecond, "the plugin's lines reach the log:\n%s", logs)
	require.NotContains(t, logs.String(), secret)
	require.Contains(t, logs.String(), "configured with echo="+redacted)
	require.Contains(t, logs.String(), "plain line with echo="+redacted)
}

// TestRedactingLogger: a setting's value is replaced wherever it shows:
// message, keys, group names, strings, errors, and values of other kinds
// as written (a PIN a JSON stderr line carried as a number, a map's
// values); whatever quotes none keeps its kind and shape.
func TestRedactingLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, nil))
	require.Same(t, base, redactingLogger(base, map[string]string{"flag": "on"}), "nothing worth redacting: the logger as is")

	log := redactingLogger(base, map[string]string{"key": "abc", "long": "xxabcxx", "pin": "73194628"}).With("from", "With xxabcxx")
	log.WithGroup("g").Info("msg abc", "s", "abc!", "err", errors.New("failed: xxabcxx"), "n", 42,
		slog.Group("inner", "v", "abc"), "m", map[string]int{"ok": 1},
		"pin", float64(73194628), "pin_int", 73194628, "abc", true,
		"nested", map[string]any{"pin": float64(73194628)}, "list", []any{"x", float64(73194628)})
	out := buf.String()
	for _, leak := range []string{"abc", "73194628", "7.3194628e+07"} {
		require.NotContains(t, out, leak, out)
	}
	require.Contains(t, out, `"msg":"msg [redacted]"`)
	require.Contains(t, out, `"from":"With [redacted]"`, "the longer value first, whole")
	require.Contains(t, out, `"n":42`, "numbers without a secret stay numbers")
	require.Contains(t, out, `"m":{"ok":1}`, "values without a secret keep their shape")
	require.Contains(t, out, `"pin":"[redacted]"`, "a number quoting a setting becomes a string")
	require.Contains(t, out, `"pin_int":"[redacted]"`)
	require.Contains(t, out, `"[redacted]":true`, "keys are redacted too")
	require.Contains(t, out, `"nested":"{\"pin\":[redacted]}"`)

	var text bytes.Buffer
	redactingLogger(slog.New(slog.NewTextHandler(&text, nil)), map[string]string{"pin": "73194628"}).
		WithGroup("g73194628").Info("plain", "f", float64(73194628))
	require.NotContains(t, text.String(), "73194628", text.String())
	require.NotContains(t, text.String(), "7.3194628e+07", "as a text handler writes floats")
}

// TestRedactingGoPluginJSONLine: a plugin's JSON stderr line, decoded by
// go-plugin (numbers as float64, objects as maps) and re-logged through
// the hclog adapter, quotes no setting.
func TestRedactingGoPluginJSONLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	settings := map[string]string{"pin": "73194628", "api_key": "sk_live_ABCDEF"}
	hl := newHCLogger(redactingLogger(base, settings)).Named("plugin")
	hl.Info("configured", "pin", float64(73194628), "sk_live_ABCDEF", true, "nested", map[string]any{"pin": float64(73194628)})
	out := buf.String()
	require.Contains(t, out, "configured")
	for _, leak := range []string{"73194628", "sk_live_ABCDEF", "7.3194628e+07"} {
		require.NotContains(t, out, leak, out)
	}
}
