package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

// loadServeConfig is serve's configuration from env alone, defaults
// included.
func loadServeConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	base := map[string]string{
		"PARTNERHUB_DATABASE_URL": "postgres://unused/db",
		"PARTNERHUB_SECRET_KEY":   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"PARTNERHUB_OPERATOR_KEY": "op",
		"PARTNERHUB_PUBLIC_URL":   "https://hub.example",
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load("serve", nil, func(k string) string { return base[k] })
	require.NoError(t, err)
	return cfg
}

// By default (PARTNERHUB_SIMULATOR=test) the in-process simulator has no
// port and no control endpoints: anything reaching them (a tenant's
// plugin) could drive other tenants' test payments. Its Gateway API
// answers the payment service's client in memory. Dev mode's staging
// simulator listens on loopback with its control endpoints, for
// developers.
func TestInProcessSimulatorControlOnlyInDevMode(t *testing.T) {
	t.Parallel()
	s, err := startInProcessSim(loadServeConfig(t, nil), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.close)
	_, err = http.Get(s.srv.URL + pay1st.PathToken)
	require.Error(t, err, "no network address")
	require.NotNil(t, s.inMemory)
	for path, want := range map[string]int{
		sim.ControlPrefix + "webhooks": http.StatusNotFound,
		pay1st.PathToken:               http.StatusUnauthorized, // the Gateway API, asking for credentials
	} {
		resp, err := s.inMemory.Post(s.srv.URL+path, "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}

	dev, err := startInProcessSim(loadServeConfig(t, map[string]string{"PARTNERHUB_SIMULATOR": config.SimulatorStaging}),
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(dev.close)
	resp, err := http.Get(dev.srv.URL + sim.ControlPrefix + "webhooks")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// PARTNERHUB_SIMULATOR=staging with an explicit staging Pay1st URL is a
// configuration error, not a silent choice of one.
func TestStagingSimulatorRefusesAStagingURL(t *testing.T) {
	t.Parallel()
	cfg := loadServeConfig(t, map[string]string{"PARTNERHUB_SIMULATOR": config.SimulatorStaging,
		"PARTNERHUB_PAY1ST_STAGING_URL": "https://sandbox.pay1st.example"})
	_, err := startInProcessSim(cfg, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, config.ErrInvalid)
	require.Contains(t, err.Error(), "PARTNERHUB_PAY1ST_STAGING_URL")
}

// Webhooks to a public URL with a path prefix (a proxy's) reach this
// process's routes without it.
func TestSelfTransportStripsThePublicPathPrefix(t *testing.T) {
	t.Parallel()
	var got []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RequestURI())
	}))
	t.Cleanup(target.Close)
	cfg := loadServeConfig(t, map[string]string{"PARTNERHUB_PUBLIC_URL": "https://hub.example/hub/"})
	s, err := startInProcessSim(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(s.close)
	addr, err := net.ResolveTCPAddr("tcp", strings.TrimPrefix(target.URL, "http://"))
	require.NoError(t, err)
	s.deliverTo(addr)
	c := &http.Client{Transport: s.self}
	for _, u := range []string{"https://hub.example/hub/pay1st/staging/acme/payment-events?token=x", "https://hub.example/hub"} {
		resp, err := c.Post(u, "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		_ = resp.Body.Close()
	}
	require.Equal(t, []string{"/pay1st/staging/acme/payment-events?token=x", "/"}, got)
}
