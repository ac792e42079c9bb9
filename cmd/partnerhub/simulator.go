package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

// inProcessSim is the Pay1st simulator a partnerhub process runs for
// staging test transactions (PARTNERHUB_SIMULATOR) and, in dev mode, as
// staging's Pay1st. For test transactions it is reached in memory only;
// in dev mode it listens on a loopback port, with its (unauthenticated)
// control endpoints. It sends webhooks only to this process: an order's
// webhook URL is built from PARTNERHUB_PUBLIC_URL, as Pay1st would get it,
// and is delivered to this process's own listen address, so a test
// transaction works whatever stands between Pay1st and partnerhub, and
// the simulator can never be made to call anywhere else.
type inProcessSim struct {
	srv    *sim.Server
	client *pay1st.Client
	// inMemory reaches srv when it has no port (not in dev mode).
	inMemory *http.Client
	self     *selfTransport
}

// startInProcessSim starts the simulator, or returns nil when it is off.
func startInProcessSim(cfg config.Config, logger *slog.Logger) (*inProcessSim, error) {
	if cfg.Simulator == config.SimulatorOff {
		return nil, nil
	}
	if cfg.Simulator == config.SimulatorStaging && cfg.Pay1stStagingURL != "" {
		// Either would be staging's Pay1st: silently picking one hides a
		// mistake.
		return nil, fmt.Errorf("%w: PARTNERHUB_SIMULATOR=staging makes the simulator staging's Pay1st: unset PARTNERHUB_PAY1ST_STAGING_URL, or set PARTNERHUB_SIMULATOR=test",
			config.ErrInvalid)
	}
	public, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("%w: PARTNERHUB_PUBLIC_URL: %w", config.ErrInvalid, err)
	}
	self := &selfTransport{public: public.Host, prefix: strings.TrimRight(public.Path, "/")}
	opts := sim.Options{Logger: logger, HTTPClient: &http.Client{Transport: self, Timeout: sim.DefaultWebhookTimeout}}
	var srv *sim.Server
	var httpClient *http.Client
	if cfg.Simulator == config.SimulatorStaging {
		// Dev mode: on a loopback port with its control endpoints, for the
		// developer's curl and the demo's scripts.
		srv, err = sim.Start(opts)
	} else {
		// Test transactions drive the simulator through its Go methods;
		// only the payment service's client calls its Gateway API, in
		// memory. Nothing else can reach it: a tenant's plugin can reach
		// loopback ports, and the unauthenticated control endpoints (left
		// out too) would let it read other tenants' test payments and have
		// the simulator send them events signed with their staging keys.
		opts.NoControl = true
		ln := newMemListener()
		httpClient = &http.Client{Transport: &http.Transport{DialContext: ln.dial}}
		srv, err = sim.Serve(ln, "http://pay1st-simulator.internal", opts)
	}
	if err != nil {
		return nil, fmt.Errorf("start the in-process simulator: %w", err)
	}
	client, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, Timeout: 10 * time.Second, MaxAttempts: 2,
		HTTPClient: httpClient, Logger: logger})
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	return &inProcessSim{srv: srv, client: client, inMemory: httpClient, self: self}, nil
}

// deliverTo sets the address webhooks go to: this process's listener.
func (s *inProcessSim) deliverTo(addr net.Addr) {
	if s != nil {
		a := addr.String()
		s.self.target.Store(&a)
	}
}

// simulator is the simulator itself (nil when off).
func (s *inProcessSim) simulator() *sim.Simulator {
	if s == nil {
		return nil
	}
	return s.srv.Simulator
}

func (s *inProcessSim) close() {
	if s != nil {
		_ = s.srv.Close()
	}
}

// selfTransport sends requests for the public host to this process's
// listen address and refuses any other. A path prefix of the public URL
// (https://host/hub, a proxy's) is taken off, as that proxy would.
type selfTransport struct {
	public string
	prefix string // the public URL's path, without its trailing slash
	target atomic.Pointer[string]
}

var errNotSelf = errors.New("the in-process simulator only sends webhooks to this partnerhub (PARTNERHUB_PUBLIC_URL)")

func (t *selfTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	target := t.target.Load()
	if r.URL.Host != t.public || target == nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, errNotSelf
	}
	host, port, err := net.SplitHostPort(*target)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = "http", net.JoinHostPort(host, port)
	if t.prefix != "" {
		if rest, ok := strings.CutPrefix(r.URL.Path, t.prefix); ok && (rest == "" || rest[0] == '/') {
			r.URL.Path, r.URL.RawPath = "/"+strings.TrimPrefix(rest, "/"), ""
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}
