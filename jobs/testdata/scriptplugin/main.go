// Command scriptplugin is a test plugin whose Fulfil answer is chosen by the
// payment's customer id, so job tests can drive every outcome through a real
// plugin process:
//
//	1 fulfilled · 2 rejected · 3 retry · 4 error from the call itself
//	5 fulfilled after 2 s, ignoring cancellation (a slow game backend)
package main

import (
	"context"
	"errors"
	"time"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type script struct{ sdk.Unimplemented }

func (script) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "script", Version: "1.0.0", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityFulfil}}, nil
}

func (script) Fulfil(_ context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	switch req.Payment.CustomerID {
	case 1:
		return sdk.Fulfilled("game-" + req.Payment.Reference), nil
	case 2:
		return sdk.Rejected("player banned"), nil
	case 3:
		return sdk.Retry("game backend down"), nil
	case 5:
		time.Sleep(2 * time.Second)
		return sdk.Fulfilled("slow-" + req.Payment.Reference), nil
	default:
		return sdk.Result{}, errors.New("exploded")
	}
}

func main() { sdk.Serve(script{}) }
