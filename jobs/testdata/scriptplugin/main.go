// Command scriptplugin is a test plugin whose Fulfil answer is chosen by the
// payment's customer id, so job tests can drive every outcome through a real
// plugin process:
//
//	1 fulfilled · 2 rejected · 3 retry · 4 error from the call itself
//	5 fulfilled after 2 s, ignoring cancellation (a slow game backend)
//	6 fulfilled · 7 fulfilled (they differ in Reverse)
//
// and whose Reverse answer likewise:
//
//	1, 5 reversed · 6 rejected · 7 retry · anything else an error
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
		Capabilities: []sdk.Capability{sdk.CapabilityFulfil, sdk.CapabilityReverse}}, nil
}

func (script) Fulfil(_ context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	switch req.Payment.CustomerID {
	case 1, 6, 7:
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

func (script) Reverse(_ context.Context, req sdk.ReverseRequest) (sdk.Result, error) {
	switch req.Payment.CustomerID {
	case 1, 5:
		return sdk.Fulfilled("undo-" + string(req.Reason) + "-" + req.Payment.Reference), nil
	case 6:
		return sdk.Rejected("coins already spent"), nil
	case 7:
		return sdk.Retry("game backend down"), nil
	default:
		return sdk.Result{}, errors.New("exploded")
	}
}

func main() { sdk.Serve(script{}) }
