package sdk

import (
	"context"
	"io"
	"log/slog"
)

// hclogTimeFormat is the timestamp layout the host's log reader parses.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// NewLogger returns a logger for a plugin to inject where it needs one; pass
// os.Stderr. The host reads the plugin's stderr line by line and re-logs JSON
// lines in go-plugin's format at their own level with their attributes, so
// this logger writes exactly that format. Plain text lines still arrive,
// but only at debug level. Lines logged with the context of a call the host
// traces (InfoContext and the like) carry its trace_id, and as span_id the
// host's span for the call.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(traceLog{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: hclogAttr})})
}

// traceLog adds the call's trace IDs to a record logged with its context.
type traceLog struct{ slog.Handler }

func (t traceLog) Handle(ctx context.Context, r slog.Record) error {
	if call, ok := ctx.Value(callTraceKey{}).(callTrace); ok {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", call.traceID), slog.String("span_id", call.spanID))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceLog) WithAttrs(as []slog.Attr) slog.Handler { return traceLog{t.Handler.WithAttrs(as)} }

func (t traceLog) WithGroup(name string) slog.Handler { return traceLog{t.Handler.WithGroup(name)} }

// hclogAttr renames slog's built-in keys to go-plugin's (hclog's) names.
func hclogAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	case slog.LevelKey:
		level, ok := a.Value.Any().(slog.Level)
		if !ok {
			return a
		}
		return slog.String("@level", hclogLevel(level))
	}
	return a
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
