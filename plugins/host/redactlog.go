package host

import (
	"context"
	"log/slog"
	"slices"
	"strings"
)

// minRedactLen: shorter setting values ("1", "on") are too common in
// ordinary text to replace, and too short to be a secret worth the noise.
const minRedactLen = 3

// redacted stands where a setting's value was.
const redacted = "[redacted]"

// redactingLogger returns log with every value of settings (of at least
// minRedactLen bytes) replaced in each line's message and attributes. It
// is the logger of go-plugin, which re-logs what a plugin writes to its
// stderr: a plugin quoting its settings (API keys, HMAC secrets) must not
// put them in partnerhub's log.
func redactingLogger(log *slog.Logger, settings map[string]string) *slog.Logger {
	var secrets []string
	for _, v := range settings {
		if len(v) >= minRedactLen {
			secrets = append(secrets, v)
		}
	}
	if len(secrets) == 0 {
		return log
	}
	// Longest first, so a value containing another is replaced whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	return slog.New(redactHandler{Handler: log.Handler(), secrets: secrets})
}

type redactHandler struct {
	slog.Handler
	secrets []string
}

func (h redactHandler) text(s string) string {
	for _, v := range h.secrets {
		s = strings.ReplaceAll(s, v, redacted)
	}
	return s
}

func (h redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.text(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]any, len(group))
		for i, g := range group {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		// Errors, maps and the like: as their text when it quotes a
		// setting, else untouched.
		if text := v.String(); h.text(text) != text {
			return slog.String(a.Key, h.text(text))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return redactHandler{Handler: h.Handler.WithAttrs(out), secrets: h.secrets}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{Handler: h.Handler.WithGroup(name), secrets: h.secrets}
}
