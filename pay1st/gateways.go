package pay1st

import (
	"errors"
	"fmt"
)

// Gateway kinds: which Pay1st an order or payment talks to.
const (
	// GatewayPay1st is the real Pay1st Gateway of the environment.
	GatewayPay1st = "pay1st"
	// GatewaySimulator is partnerhub's own simulator (dev mode, test
	// transactions).
	GatewaySimulator = "simulator"
)

// Environment names, as in tenant environments.
const (
	envStaging    = "staging"
	envProduction = "production"
)

// ErrNoGateway says no client is configured for an environment and gateway:
// orders there cannot be created (a configuration matter, not a Pay1st one).
var ErrNoGateway = errors.New("pay1st: no gateway configured")

// Gateways holds the clients partnerhub may call: the real Pay1st per
// environment (nil when not configured) and, optionally, the simulator.
// It is built once at start and read-only afterwards, except SetSimulator,
// which is called during start-up (dev mode) before any use.
type Gateways struct {
	staging, production *Client
	simulator           *Client
}

// NewGateways returns the real Pay1st clients of staging and production;
// either may be nil (that environment has no gateway).
func NewGateways(staging, production *Client) *Gateways {
	return &Gateways{staging: staging, production: production}
}

// SetSimulator sets the client of the simulator (GatewaySimulator), for
// staging only: a production order must never reach a fake Pay1st.
func (g *Gateways) SetSimulator(c *Client) { g.simulator = c }

// Client returns the client of env's gateway. ErrNoGateway (wrapped) when
// none is configured, env or gateway is unknown, or the simulator is asked
// for outside staging. A nil *Gateways has none.
func (g *Gateways) Client(env, gateway string) (*Client, error) {
	var c *Client
	if g != nil {
		switch {
		case gateway == GatewaySimulator && env == envStaging:
			c = g.simulator
		case gateway == GatewayPay1st && env == envStaging:
			c = g.staging
		case gateway == GatewayPay1st && env == envProduction:
			c = g.production
		}
	}
	if c == nil {
		return nil, fmt.Errorf("%w for gateway %q in environment %q", ErrNoGateway, gateway, env)
	}
	return c, nil
}
