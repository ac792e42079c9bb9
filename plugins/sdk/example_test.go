package sdk_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// gems is a complete (if forgetful: it keeps balances in memory) plugin. A
// real plugin's main is one line:
//
//	func main() { sdk.Serve(newGems()) }
//
// and its tests get the host's view of it over a real gRPC connection with
//
//	p := sdk.TestClient(t, newGems())
type gems struct {
	// Unimplemented answers what gems does not override (LookupUser accepts
	// every player; Reverse rejects).
	sdk.Unimplemented

	mu       sync.Mutex
	balances map[string]decimal.Decimal
	done     map[string]bool // idempotency keys already applied
}

func newGems() *gems {
	return &gems{balances: map[string]decimal.Decimal{}, done: map[string]bool{}}
}

func (g *gems) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:            "gems",
		Version:         "0.1.0",
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities:    []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil},
	}, nil
}

func (g *gems) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	// Settings arrive here, never through the environment. Returning an
	// error refuses them; the host then does not use the plugin.
	if _, ok := req.Settings["unsupported"]; ok {
		return fmt.Errorf("setting %q is not supported", "unsupported")
	}
	return nil
}

func (g *gems) Fulfil(_ context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	if req.PlayerID == "" {
		return sdk.Rejected("no player"), nil // permanent: never retried
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ref := "gems-" + req.IdempotencyKey
	if g.done[req.IdempotencyKey] {
		return sdk.Fulfilled(ref), nil // a retry: answer the same, credit nothing
	}
	credit := decimal.Zero
	for _, it := range req.Items {
		if it.DigitalCurrencyCode == "GEM" && it.DigitalAmount.Valid {
			credit = credit.Add(it.DigitalAmount.Decimal.Mul(decimal.NewFromInt(max(it.Quantity, 1))))
		}
	}
	g.balances[req.PlayerID] = g.balances[req.PlayerID].Add(credit)
	g.done[req.IdempotencyKey] = true
	return sdk.Fulfilled(ref), nil
}

func Example() {
	ctx := context.Background()
	p := newGems()

	req := sdk.FulfilRequest{
		IdempotencyKey: "fulfil:PAY-1",
		PlayerID:       "player-7",
		Payment:        sdk.Payment{Reference: "PAY-1", Amount: decimal.RequireFromString("1000.50"), CurrencyCode: "NGN"},
		Items: []sdk.Item{{
			SKU: "gems-50", Quantity: 2, DigitalCurrencyCode: "GEM",
			DigitalAmount: decimal.NewNullDecimal(decimal.RequireFromString("50.5")),
		}},
	}
	first, _ := p.Fulfil(ctx, req)
	again, _ := p.Fulfil(ctx, req) // the host retried: same answer, no second credit
	fmt.Println(first.Outcome, first.Reference)
	fmt.Println(again.Outcome, again.Reference)
	fmt.Println("balance:", p.balances["player-7"])

	noPlayer, _ := p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "fulfil:PAY-2"})
	fmt.Println(noPlayer.Outcome, noPlayer.Reason)
	// Output:
	// fulfilled gems-fulfil:PAY-1
	// fulfilled gems-fulfil:PAY-1
	// balance: 101
	// rejected no player
}
