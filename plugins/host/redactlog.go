package host

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// minRedactLen: shorter setting values ("1", "on") are too common in
// ordinary text to replace, and too short to be a secret worth the noise.
const minRedactLen = 3

// redacted stands where a setting's value was.
const redacted = "[redacted]"

// redactingLogger returns log with every value of settings (of at least
// minRedactLen bytes) replaced in each line's message, attribute keys and
// group names, and attribute values of every kind. It is the logger of
// go-plugin, which re-logs what a plugin writes to its stderr: a plugin
// quoting its settings (API keys, HMAC secrets, PINs) must not put them in
// partnerhub's log. A JSON stderr line arrives decoded (numbers as
// float64, objects as maps): such a value is compared as it would be
// written, and replaced whole by a string when it quotes a setting.
//
// Limit: go-plugin splits a stderr line longer than its 64 KiB buffer into
// several Debug records; a setting that straddles a split is not matched.
// Plugins must not write such lines; partnerhub's own plugins do not.
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
	key := h.text(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(key, h.text(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]any, len(group))
		for i, g := range group {
			out[i] = h.attr(g)
		}
		return slog.Group(key, out...)
	case slog.KindFloat64:
		// Written as %g by a text handler, as JSON by a JSON one.
		f := v.Float64()
		if plain := strconv.FormatFloat(f, 'f', -1, 64); h.quotes(plain) || h.quotes(strconv.FormatFloat(f, 'g', -1, 64)) {
			return slog.String(key, h.text(plain))
		}
	case slog.KindAny:
		// Errors, maps, slices and the like: as their text, or their JSON
		// (a map's numbers, a struct's field names), when either quotes a
		// setting; else untouched, keeping their shape.
		if text := v.String(); h.quotes(text) {
			return slog.String(key, h.text(text))
		}
		if js, err := json.Marshal(v.Any()); err == nil && h.quotes(string(js)) {
			return slog.String(key, h.text(string(js)))
		}
	default: // ints, bools, durations, times: as written
		if text := v.String(); h.quotes(text) {
			return slog.String(key, h.text(text))
		}
	}
	return slog.Attr{Key: key, Value: v}
}

// quotes reports whether s holds a setting's value.
func (h redactHandler) quotes(s string) bool {
	for _, v := range h.secrets {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
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
	return redactHandler{Handler: h.Handler.WithGroup(h.text(name)), secrets: h.secrets}
}
