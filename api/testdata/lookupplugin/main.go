// Command lookupplugin is a test plugin whose LookupUser answer is chosen by
// the player id, so the User Info Webhook's failure paths run against a real
// plugin process:
//
//	slow: answers after 10 s, ignoring cancellation · boom: the call fails
//	nobody: not found, with the plugin's code and message · else: found
package main

import (
	"context"
	"errors"
	"time"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type lookup struct{ sdk.Unimplemented }

func (lookup) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "lookup", Version: "1.0.0", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityLookupUser}}, nil
}

func (lookup) LookupUser(_ context.Context, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	switch req.PlayerID {
	case "slow":
		time.Sleep(10 * time.Second)
		return sdk.LookupUserResponse{Found: true, UserID: "slow"}, nil
	case "boom":
		return sdk.LookupUserResponse{}, errors.New("game database exploded")
	case "nobody":
		return sdk.LookupUserResponse{ErrorCode: "BANNED", ErrorMessage: "player is banned\n<script>"}, nil
	}
	return sdk.LookupUserResponse{Found: true, UserID: "u-" + req.PlayerID, ExternalReference: req.ExternalReference,
		Amount: req.Amount, CurrencyCode: req.CurrencyCode}, nil
}

func main() { sdk.Serve(lookup{}) }
