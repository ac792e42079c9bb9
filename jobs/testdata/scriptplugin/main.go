// Command scriptplugin is a test plugin whose Fulfil answer is chosen by the
// payment's customer id, so job tests can drive every outcome through a real
// plugin process:
//
//	1 fulfilled · 2 rejected · 3 retry · 4 error from the call itself
//	5 fulfilled after 2 s, ignoring cancellation (a slow game backend)
//	6 fulfilled · 7 fulfilled (they differ in Reverse)
//	8 an error quoting the api_key setting · 9 rejected quoting it
//	  (as a careless plugin would: partnerhub must redact it)
//
// Configure refuses settings with refuse=yes, quoting api_key.
//
// and whose Reverse answer likewise:
//
//	1, 5 reversed · 6 rejected · 7 retry · anything else an error
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type script struct {
	sdk.Unimplemented
	settings *map[string]string
}

func (s script) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	if req.Settings["refuse"] == "yes" {
		return fmt.Errorf("cannot log in with api_key %q", req.Settings["api_key"])
	}
	*s.settings = req.Settings
	return nil
}

func (script) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "script", Version: "1.0.0", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityFulfil, sdk.CapabilityReverse}}, nil
}

func (s script) Fulfil(_ context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	switch req.Payment.CustomerID {
	case 8:
		return sdk.Result{}, fmt.Errorf("game API refused api_key %s", (*s.settings)["api_key"])
	case 9:
		return sdk.Rejected("account of api_key " + (*s.settings)["api_key"] + " suspended"), nil
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

func main() { sdk.Serve(script{settings: &map[string]string{}}) }
