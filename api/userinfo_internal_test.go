package api

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

const lookupSecret = "sk_live_do-not-show-9f2c"

type secretKeyRegistry struct{}

func (secretKeyRegistry) ActiveKey(context.Context, plugins.ActiveRef) (host.Key, error) {
	return host.Key{PartnerCode: "acme", Env: "staging", Settings: map[string]string{"api_key": lookupSecret}}, nil
}

// quotingHost fails the way a plugin that quotes its settings does, through
// the host (a lazy start's Configure) or through the call itself.
type quotingHost struct{ startErr, callErr error }

func (h quotingHost) Get(context.Context, host.Key) (sdk.Plugin, error) {
	if h.startErr != nil {
		return nil, h.startErr
	}
	return quotingPlugin{err: h.callErr}, nil
}

func (quotingHost) Probe(context.Context, host.Key) (sdk.Description, error) {
	return sdk.Description{}, errors.New("unused")
}

type quotingPlugin struct {
	sdk.Unimplemented
	err error
}

func (p quotingPlugin) LookupUser(context.Context, sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	return sdk.LookupUserResponse{}, p.err
}

// TestLookupErrorsHideSettings: what a failing plugin says about its
// settings never reaches the error that becomes the delivery's reason.
func TestLookupErrorsHideSettings(t *testing.T) {
	t.Parallel()
	quote := errors.New("refused: api_key=" + lookupSecret + " in /var/lib/partnerhub/plugins/cache/abc")
	for name, h := range map[string]quotingHost{
		"start": {startErr: errors.Join(host.ErrStart, quote)},
		"call":  {callErr: quote},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wh := &WebhookHandler{plugins: secretKeyRegistry{}, host: h}
			_, err := wh.callLookup(context.Background(), tenant.Env{PartnerCode: "acme", Name: "staging", ActivePluginID: 1}, sdk.LookupUserRequest{})
			require.Error(t, err)
			require.NotContains(t, err.Error(), lookupSecret)
			require.ErrorIs(t, err, quote, "the cause stays for errors.Is (a timeout must stay a timeout)")
		})
	}
}
