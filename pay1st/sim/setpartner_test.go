package sim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

// TestSetPartnerReplacesCredentials: partnerhub's in-process simulator
// registers a tenant again with its current credentials; the old ones stop
// getting tokens, the new ones work, and another partner's key is refused.
func TestSetPartnerReplacesCredentials(t *testing.T) {
	t.Parallel()
	s, err := sim.Start(sim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: s.URL, MaxAttempts: 1})
	require.NoError(t, err)
	ctx := context.Background()
	old := pay1st.Credentials{APIKey: "k1", APISecret: "s1", SigningKey: "sk1"}
	now := pay1st.Credentials{APIKey: "k2", APISecret: "s2", SigningKey: "sk2"}

	require.NoError(t, s.SetPartner(sim.Partner{PartnerID: 1, PartnerCode: "acme", APIKey: old.APIKey, APISecret: old.APISecret, SigningKey: old.SigningKey}))
	_, err = c.AccessToken(ctx, old)
	require.NoError(t, err)
	require.NoError(t, s.SetPartner(sim.Partner{PartnerID: 1, PartnerCode: "acme", APIKey: now.APIKey, APISecret: now.APISecret, SigningKey: now.SigningKey}))
	_, err = c.QueryPayment(ctx, now, "C-none-P")
	require.ErrorIs(t, err, pay1st.ErrNotFound, "the new credentials are accepted (a token, a checked signature)")
	fresh, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: s.URL, MaxAttempts: 1})
	require.NoError(t, err)
	_, err = fresh.AccessToken(ctx, old)
	require.ErrorIs(t, err, pay1st.ErrUnauthorized, "the replaced ones get no token")

	require.Error(t, s.SetPartner(sim.Partner{PartnerID: 2, PartnerCode: "beta", APIKey: now.APIKey, APISecret: "x", SigningKey: "y"}))
	require.Error(t, s.SetPartner(sim.Partner{PartnerCode: "acme"}))
}
