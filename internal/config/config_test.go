package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load("serve", nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, ":8080", c.Listen)
	require.Equal(t, int64(1<<20), c.MaxBodyBytes)
	require.Equal(t, 5*time.Minute, c.SignatureWindow)
	require.Equal(t, 24*time.Hour, c.SigningKeyGrace)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, "nobody", c.PluginUser)
	require.Equal(t, 3*time.Second, c.UserInfoTimeout)
	require.Equal(t, 200, c.RateLimitPerTenant)
	require.Equal(t, 400, c.RateLimitBurst)
	require.Empty(t, c.MetricsListen, "no /metrics unless asked for")
	require.Equal(t, 2*time.Millisecond, c.IngestBatchWait)
	require.Equal(t, 64, c.IngestBatchMax)
	require.ErrorIs(t, c.RequireServe(), config.ErrInvalid, "serve needs a database and a secret key")
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	c, err := config.Load("serve", []string{"--listen", "127.0.0.1:9000"}, env(map[string]string{
		"PARTNERHUB_LISTEN":     ":7000",
		"DATABASE_URL":          "postgres://fallback/db",
		"PARTNERHUB_SECRET_KEY": key,
		"PARTNERHUB_PUBLIC_URL": "https://hub.example.com/",
	}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9000", c.Listen, "a flag beats the environment")
	require.Equal(t, "postgres://fallback/db", c.DatabaseURL, "DATABASE_URL is read when PARTNERHUB_DATABASE_URL is unset")
	require.Equal(t, "https://hub.example.com", c.PublicURL)
	require.Len(t, c.SecretKey, 32)
	require.NoError(t, c.RequireServe())

	c, err = config.Load("serve", nil, env(map[string]string{
		"PARTNERHUB_DATABASE_URL": "postgres://primary/db", "DATABASE_URL": "postgres://fallback/db",
	}))
	require.NoError(t, err)
	require.Equal(t, "postgres://primary/db", c.DatabaseURL)
}

func TestLoadRejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env, value, want string
	}{
		{"PARTNERHUB_MAX_BODY_BYTES", "0", "PARTNERHUB_MAX_BODY_BYTES"},
		{"PARTNERHUB_MAX_BODY_BYTES", "lots", "not a whole number"},
		{"PARTNERHUB_SIGNATURE_WINDOW", "5", "not a duration"},
		{"PARTNERHUB_SIGNATURE_WINDOW", "2h", "outside"},
		{"PARTNERHUB_SIGNING_KEY_GRACE", "721h", "outside"},
		{"PARTNERHUB_SIGNING_KEY_GRACE", "-1s", "outside"},
		{"PARTNERHUB_SIGNING_KEY_GRACE", "1d", "not a duration"},
		{"PARTNERHUB_LOG_FORMAT", "xml", "not one of"},
		{"PARTNERHUB_METRICS_LISTEN", "9464", "host:port"},
		{"PARTNERHUB_PUBLIC_URL", "hub.example.com", "absolute"},
		{"PARTNERHUB_JOB_WORKERS", "-1", "outside"},
		{"PARTNERHUB_LISTEN", " ", "empty"},
		{"PARTNERHUB_USER_INFO_TIMEOUT", "31s", "outside"},
		{"PARTNERHUB_USER_INFO_TIMEOUT", "50ms", "outside"},
		{"PARTNERHUB_RATE_LIMIT_PER_TENANT", "-1", "outside"},
		{"PARTNERHUB_RATE_LIMIT_BURST", "0", "outside"},
		{"PARTNERHUB_INGEST_BATCH_WAIT", "101ms", "outside"},
		{"PARTNERHUB_INGEST_BATCH_WAIT", "-1ms", "outside"},
		{"PARTNERHUB_INGEST_BATCH_MAX", "0", "outside"},
		{"PARTNERHUB_INGEST_BATCH_MAX", "1001", "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load("serve", nil, env(map[string]string{tt.env: tt.value}))
			require.ErrorIs(t, err, config.ErrInvalid)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, tt.env, "the message names the setting")
		})
	}
}

func TestSecretKeyNeverEchoed(t *testing.T) {
	t.Parallel()
	_, err := config.Load("serve", nil, env(map[string]string{"PARTNERHUB_SECRET_KEY": "c2VjcmV0LXRvby1zaG9ydA=="}))
	require.ErrorIs(t, err, config.ErrInvalid)
	require.NotContains(t, err.Error(), "c2VjcmV0LXRvby1zaG9ydA==")
}

func TestUnknownFlagAndArgument(t *testing.T) {
	t.Parallel()
	_, err := config.Load("serve", []string{"--no-such-flag"}, env(nil))
	require.ErrorIs(t, err, config.ErrInvalid)
	_, err = config.Load("serve", []string{"extra"}, env(nil))
	require.ErrorIs(t, err, config.ErrInvalid)
}

// TestDocsListEverySetting keeps docs/config.md true.
func TestDocsListEverySetting(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	require.NoError(t, err)
	for _, s := range config.Settings() {
		require.Contains(t, string(doc), "`"+s.Env+"`", "docs/config.md must list %s", s.Env)
		require.Contains(t, string(doc), "`--"+s.Flag+"`", "docs/config.md must list --%s", s.Flag)
		require.Contains(t, string(doc), strings.ReplaceAll(s.Usage, "|", "\\|"), "docs/config.md must describe %s as the code does", s.Env)
	}
	var usage bytes.Buffer
	config.Usage(&usage)
	require.Equal(t, len(config.Settings()), strings.Count("\n"+usage.String(), "\n  --"))
}
