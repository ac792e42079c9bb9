package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Limits of an environment's plugin settings.
const (
	MaxSettings         = 32
	MaxSettingValueLen  = 4096
	MaxSettingsTotalLen = 32 << 10 // names and values together
)

// SettingNameSyntax is a setting's name: an identifier of at most 64 bytes.
var SettingNameSyntax = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// SettingsInfo is what may be shown of an environment's settings: their
// names and when they last changed, never their values.
type SettingsInfo struct {
	Names     []string
	UpdatedAt time.Time // zero when never set
}

// SettingsParams replace an environment's plugin settings.
type SettingsParams struct {
	TenantID    int64
	PartnerCode string
	Env         string
	// Settings replace the environment's whole set; empty clears it.
	Settings map[string]string
	// ActivePluginID, when not 0, is the environment's active plugin: it is
	// started with the new settings through the Starter, and must accept
	// them in Configure before they are stored (else an *ActivationError
	// with ReasonSettings, and the old settings stay).
	ActivePluginID int64
}

// settingsContext binds sealed settings to their tenant and environment: a
// sealed value copied into another row does not open.
func settingsContext(tenantID int64, env string) string {
	return "plugin_settings:" + strconv.FormatInt(tenantID, 10) + ":" + env
}

// checkSettings validates settings without ever quoting a value.
func checkSettings(s map[string]string) error {
	if len(s) > MaxSettings {
		return &FieldError{In: "body", Field: "settings", Problem: fmt.Sprintf("has more than %d entries", MaxSettings)}
	}
	total := 0
	for _, name := range slices.Sorted(maps.Keys(s)) {
		v := s[name]
		if !SettingNameSyntax.MatchString(name) {
			return &FieldError{In: "body", Field: "settings", Problem: "has a name that is not 1-64 of A-Z a-z 0-9 _ . - starting with a letter or _"}
		}
		if len(v) > MaxSettingValueLen {
			return &FieldError{In: "body", Field: "settings." + name, Problem: fmt.Sprintf("is longer than %d bytes", MaxSettingValueLen)}
		}
		if !utf8.ValidString(v) {
			return &FieldError{In: "body", Field: "settings." + name, Problem: "is not valid UTF-8"}
		}
		total += len(name) + len(v)
	}
	if total > MaxSettingsTotalLen {
		return &FieldError{In: "body", Field: "settings", Problem: fmt.Sprintf("is larger than %d bytes in all", MaxSettingsTotalLen)}
	}
	return nil
}

// SetSettings replaces an environment's plugin settings (write-only: they
// are sealed at rest and never returned; the answer names them). With an
// active plugin and a Starter, the plugin must accept them first. Other
// nodes pick them up at their next use of the plugin, which the host then
// restarts with them.
func (r *Registry) SetSettings(ctx context.Context, h Starter, p SettingsParams) (SettingsInfo, error) {
	if !validEnv(p.Env) {
		return SettingsInfo{}, ErrNotFound
	}
	if err := checkSettings(p.Settings); err != nil {
		return SettingsInfo{}, err
	}
	if r.box == nil {
		return SettingsInfo{}, ErrNoSealer
	}
	if p.ActivePluginID != 0 && h != nil {
		pl, err := pluginByID(ctx, r.pool, p.TenantID, p.ActivePluginID)
		if err != nil {
			return SettingsInfo{}, err
		}
		if _, err := r.start(ctx, h, pl, p.TenantID, p.PartnerCode, p.Env, p.Settings); err != nil {
			return SettingsInfo{}, err
		}
	}
	var out SettingsInfo
	err := db.InTx(ctx, r.pool, func(tx pgx.Tx) error {
		var err error
		out, err = r.SetSettingsTx(ctx, tx, p.TenantID, p.Env, p.Settings)
		return err
	})
	return out, err
}

// SetSettingsTx stores settings inside the caller's transaction, unchecked
// by any plugin (see SetSettings), audited with their names only.
func (r *Registry) SetSettingsTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, settings map[string]string) (SettingsInfo, error) {
	if !validEnv(env) {
		return SettingsInfo{}, ErrNotFound
	}
	if err := checkSettings(settings); err != nil {
		return SettingsInfo{}, err
	}
	if r.box == nil {
		return SettingsInfo{}, ErrNoSealer
	}
	if settings == nil {
		settings = map[string]string{}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return SettingsInfo{}, fmt.Errorf("encode plugin settings: %w", err)
	}
	names := slices.Sorted(maps.Keys(settings))
	at, err := saveSettings(ctx, tx, tenantID, env, r.box.Seal(raw, settingsContext(tenantID, env)), names)
	if err != nil {
		return SettingsInfo{}, err
	}
	if r.audit != nil {
		if err := r.audit.AuditTx(ctx, tx, "plugin_settings.set", tenantID, "environment:"+env,
			map[string]any{"names": names}); err != nil {
			return SettingsInfo{}, err
		}
	}
	r.log.InfoContext(ctx, "plugin settings set", "tenant_id", tenantID, "env", env, "names", names)
	return SettingsInfo{Names: names, UpdatedAt: at}, nil
}

// Settings says which settings an environment has (names only).
func (r *Registry) Settings(ctx context.Context, tenantID int64, env string) (SettingsInfo, error) {
	if !validEnv(env) {
		return SettingsInfo{}, ErrNotFound
	}
	row, err := loadSettings(ctx, r.pool, tenantID, env)
	if err != nil {
		return SettingsInfo{}, err
	}
	return SettingsInfo{Names: nonNil(row.names), UpdatedAt: row.updatedAt}, nil
}

// openSettings opens sealed settings of a tenant environment; nil sealed
// is no settings.
func (r *Registry) openSettings(tenantID int64, env string, sealed []byte) (map[string]string, error) {
	if sealed == nil {
		return map[string]string{}, nil
	}
	if r.box == nil {
		return nil, ErrNoSealer
	}
	raw, err := r.box.Open(sealed, settingsContext(tenantID, env))
	if err != nil {
		return nil, fmt.Errorf("open plugin settings of tenant %d %s: %w", tenantID, env, err)
	}
	var s map[string]string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode plugin settings of tenant %d %s: malformed", tenantID, env)
	}
	if s == nil {
		s = map[string]string{}
	}
	return s, nil
}

// redact replaces every setting value of at least 3 bytes found in msg, so
// a plugin that quotes its settings in an error does not leak them.
func redact(msg string, settings map[string]string) string {
	vals := slices.Collect(maps.Values(settings))
	// Longest first, so a value containing another is replaced whole.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		if len(v) >= 3 {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return msg
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
