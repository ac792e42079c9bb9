package pay1st_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
)

func TestGatewaysClient(t *testing.T) {
	t.Parallel()
	staging, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: "https://sandbox.example.com"})
	require.NoError(t, err)
	simulator, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	g := pay1st.NewGateways(staging, nil)
	tests := []struct {
		env, gateway string
		want         *pay1st.Client // nil: ErrNoGateway
	}{
		{"staging", pay1st.GatewayPay1st, staging},
		{"production", pay1st.GatewayPay1st, nil},
		{"staging", pay1st.GatewaySimulator, nil},
		{"qa", pay1st.GatewayPay1st, nil},
		{"staging", "paypal", nil},
	}
	check := func(g *pay1st.Gateways) {
		for _, tt := range tests {
			c, err := g.Client(tt.env, tt.gateway)
			if tt.want == nil {
				require.ErrorIs(t, err, pay1st.ErrNoGateway, "%s/%s", tt.env, tt.gateway)
				require.Contains(t, err.Error(), tt.env)
				continue
			}
			require.NoError(t, err)
			require.Same(t, tt.want, c)
		}
	}
	check(g)
	g.SetSimulator(simulator)
	tests[2].want = simulator
	tests = append(tests, struct {
		env, gateway string
		want         *pay1st.Client
	}{"production", pay1st.GatewaySimulator, nil}) // staging only, even when set
	check(g)
	_, err = (*pay1st.Gateways)(nil).Client("staging", pay1st.GatewayPay1st)
	require.ErrorIs(t, err, pay1st.ErrNoGateway, "a nil Gateways has none")
}
